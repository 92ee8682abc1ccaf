"""The command line: the ``packbin`` program and the invoke tasks, over the rest of the package.

- ``support``: how every task behaves alike: short flags, help, signals, the one error funnel and
  the ``--json`` error document;
- ``tasks/``: the invoke tasks, each a docstring, flag help and one call into the package; a
  module per topic (build, check, compose, ci, setup), joined into one Collection;
- ``program``: the ``packbin`` console script (invoke's Program over the same collection);
- ``init``, ``doctor``, ``clean``: the commands that are not a pipeline of their own.
"""
