"""Test fixtures generated at test time (Cargo workspaces from Debian's crate sources, a loopback
sparse registry). Nothing vendored is committed; see the modules for what each one builds."""
