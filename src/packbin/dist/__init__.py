"""What a build leaves in dist/, the contract later steps (init-packs, collect, smoke) read:
``layout`` (where each file goes) and ``manifest`` (manifest.json: what was built, from what)."""
