"""The ``packbin`` console script: invoke's Program over the same Collection as tasks.py."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys

from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.parser.context import ParserContext
from invoke.program import Program

from packbin import __version__
from packbin.cli.support import install_signal_handlers, print_json_error, print_task_help
from packbin.cli.tasks import ns

#: Exit code for bad arguments ("could not run"), as for packbin's own UsageError.
USAGE_EXIT = 2

#: invoke's core flags about running shell commands and invoke's own config files: packbin runs
#: no shell commands, so they would be accepted and do nothing (``-R`` would still build).
#: Hidden from ``packbin --help`` and refused when given.
IGNORED_CORE_FLAGS = (
    "command-timeout",
    "config",
    "dry",
    "echo",
    "hide",
    "prompt-for-sudo-password",
    "pty",
    "warn-only",
    "write-pyc",
)

HELP_TOKENS = ("-h", "--help")

_UNKNOWN_TASK = re.compile(r"^No idea what '(.*)' is!$")
_NEEDS_VALUE = re.compile(r"^Flag <Argument: ([\w-]+)")
_MISSING_POSITIONAL = re.compile(r"^'(.+)' did not receive required positional arguments: (.*)$")
_AMBIGUOUS = re.compile(r"^'(.*)' is ambiguous when given after an optional-value flag$")

#: Tasks whose positional argument takes one value, and how to give several.
ONE_POSITIONAL = {
    "verify-static": "takes one PATH; check more with --also {extra} or after --: {task} {first} -- {extras}",
    "collect-pack-binaries": "takes one DIRS argument, comma-separated: {task} {joined}",
}


class PackbinProgram(Program):
    """invoke's Program, except that:

    - a command-line parse error exits 2, not 1 (packbin keeps 1 for "ran, and some check
      failed": verify-static, init-packs), as one line ``packbin: error: ...``;
    - an unknown task gets a "did you mean ...?" suggestion;
    - ``TASK --help`` / ``TASK -h`` works for tasks with a positional argument, whose parser
      would otherwise take ``--help`` as the path;
    - invoke's core flags that mean nothing for packbin are hidden and refused.
    """

    _parse_failed = False
    _parse_message = ""

    def _fail(self, message: str) -> ParseError:
        self._parse_failed = True
        self._parse_message = message
        return ParseError(f"packbin: error: {message}")

    def parse_core(self, argv: list[str] | None) -> None:
        """invoke's core parsing, its errors turned into packbin's one-line error."""
        try:
            super().parse_core(argv)
        except ParseError as e:
            raise self._fail(self._explain(e)) from None
        except ValueError:
            # invoke casts an int-valued core flag (--list-depth x) without catching ValueError.
            given = {t.partition("=")[0] for t in (argv if argv is not None else sys.argv)}
            flags = [f"--{a.names[0]}" for a in self.core_args() if a.kind is int and given & _flag_forms(a.names)]
            raise self._fail(
                f"{' or '.join(flags) or 'an option'} takes a whole number\n  hint: `packbin --help` lists the options"
            ) from None

    def parse_tasks(self) -> None:
        """Parse the task part; ``<task> --help`` prints that task's help and stops."""
        wanted = _help_target(self.core.unparsed, list(self.collection.task_names))
        if wanted is not None:
            self.print_task_help(wanted)
            raise Exit
        empty = _flag_without_value(self.core.unparsed, self._task_contexts())
        if empty is not None:
            raise self._fail(_needs_value(*empty))
        try:
            super().parse_tasks()
        except ParseError as e:
            # `verify-static [--json] -- a b`: every path after the bare `--`. invoke requires the
            # positional PATH before it, so the first path after `--` becomes PATH.
            words = shlex.split(self.core.remainder or "")
            if "verify-static" in self.core.unparsed[:1] and "positional" in str(e) and words:
                self.core.unparsed.append(words[0])
                self.core.remainder = shlex.join(words[1:])
                try:
                    super().parse_tasks()
                    return
                except ParseError:
                    pass
            raise self._fail(self._explain(e)) from None

    def parse_cleanup(self) -> None:
        """Refuse invoke's shell-command flags (--echo, --dry ...), which packbin does not run."""
        given = [f"--{a.name}" for a in self.args.values() if a.name in IGNORED_CORE_FLAGS and a.got_value]
        if given:
            raise self._fail(
                f"{', '.join(given)}: invoke's option{'s' if len(given) > 1 else ''} for shell commands, which packbin does not run"
                + "; build-pack-binaries --dry-run shows what a build would do"
            )
        try:
            super().parse_cleanup()
        except ParseError as e:
            raise self._fail(self._explain(e)) from None
        except Exit as e:
            # `--list ROOT` with a ROOT that is no namespace: invoke exits 1, as for a failed check.
            if isinstance(e.message, str) and e.message.startswith("Sub-collection "):
                raise self._fail(
                    f"--list {self.args.list.value}: no such namespace; packbin's tasks are all at the top"
                    "\n  hint: `packbin --list` lists the tasks"
                ) from None
            raise

    def _explain(self, error: ParseError) -> str:
        """invoke's parse error in packbin's words: what was wrong, a suggestion, and a hint."""
        message = str(error)
        context = error.context if error.context is not None and error.context.name else None
        if m := _UNKNOWN_TASK.match(message):
            return self._unknown_word(m.group(1), context)
        if (m := _NEEDS_VALUE.match(message)) and error.context is not None:
            arg = error.context.args.get(m.group(1).replace("_", "-"))
            if arg is not None:
                return _needs_value(context.name if context else None, arg)
        if m := _MISSING_POSITIONAL.match(message):
            task = m.group(1)
            wanted = " ".join(name.strip("' ").upper() for name in m.group(2).split(","))
            return f"{task} needs {wanted}\n  hint: `packbin {task} --help` says what it takes"
        if m := _AMBIGUOUS.match(message):
            return (
                f"{m.group(1)!r} is ambiguous after an option whose value is optional; give that option's value with ="
            )
        return message

    def _task_contexts(self) -> dict[str, ParserContext]:
        """Every task's parser context, by each name it answers to."""
        return {str(name): c for c in self.collection.to_contexts() for name in (c.name, *c.aliases)}

    def _unknown_word(self, word: str, context: ParserContext | None) -> str:
        """An argument invoke matched to nothing: a mistyped option, an extra path, a mistyped task."""
        argv = self.core.unparsed
        if word.startswith("-"):
            return self._unknown_option(word, context)
        if context is not None:
            # `--force=3`: invoke splits a `--flag=value` of a flag that takes no value into two words.
            for token in argv:
                flag, sep, value = token.partition("=")
                if sep and value == word and flag in context.flags and not context.flags[flag].takes_value:
                    return f"{flag} takes no value (got {token})\n  hint: `packbin {context.name} --help` lists the options"
            template = ONE_POSITIONAL.get(str(context.name))
            if template is not None and _looks_like_path(word):
                first = next((str(a.value) for a in context.positional_args if a.value is not None), "PATH")
                extras = _words_after(argv, word)
                return f"{context.name} " + template.format(
                    task=context.name,
                    first=shlex.quote(first),
                    extra=shlex.quote(word),
                    extras=shlex.join(extras),
                    joined=shlex.quote(",".join([first, *extras])),
                )
        close = _suggest(word, list(self.collection.task_names))
        suggestion = f" (did you mean {close!r}?)" if close else ""
        return f"no task named {word!r}{suggestion}\n  hint: `packbin --list` lists the tasks"

    def _unknown_option(self, word: str, context: ParserContext | None) -> str:
        """``unknown option --dryrun (did you mean --dry-run?)``: the close flags of the task (or
        of packbin itself, before any task), or the tasks that have it when it was given too early."""
        core = [f for a in self.core_args() if a.name not in IGNORED_CORE_FLAGS for f in _long_flags(a.names)]
        if context is not None:
            known = [f for f in context.flags if f.startswith("--")] + list(context.inverse_flags) + core
            close = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
            suggestion = f" (did you mean {close[0]}?)" if close else ""
            return f"unknown option {word}{suggestion}\n  hint: `packbin {context.name} --help` lists its options"
        owners = [name for name, ctx in self._task_contexts().items() if word in ctx.flags or word in ctx.inverse_flags]
        if owners:
            owners.sort()
            tasks = ", ".join(owners[:3]) + (", ..." if len(owners) > 3 else "")
            return f"unknown option {word} before the task name\n  hint: {word} is an option of {tasks}: give it after the task, e.g. `packbin {owners[0]} {word} ...`"
        close = difflib.get_close_matches(word, core, n=1, cutoff=0.7)
        suggestion = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown option {word}{suggestion}\n  hint: `packbin --help` lists the options, `packbin TASK --help` a task's"

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        """Run the command line; a parse failure under ``--json`` prints an error document."""
        try:
            super().run(argv, exit)
        except SystemExit as e:
            if self._parse_failed and e.code == 1:
                if "--json" in (argv if argv is not None else sys.argv):
                    message, _, hint = self._parse_message.partition("\n  hint: ")
                    print_json_error(message, USAGE_EXIT, hint=hint or None)
                raise SystemExit(USAGE_EXIT) from None
            raise

    def update_config(self, merge: bool = True) -> None:
        """Merge invoke's config without loading runtime files: packbin runs no shell commands."""
        # invoke's overrides (run.echo, run.dry, timeouts, a runtime config file) all concern
        # shell commands; their flags are refused above, so there is nothing to load.
        if merge:
            self.config.merge()

    def print_help(self) -> None:
        """The top-level help: core options (without the hidden ones) and the task list."""
        print(f"Usage: {self.binary} [--core-opts] <task> [--task-opts] ...")
        print()
        print("Core options:")
        print()
        shown = [a for a in self.core_args() if a.name not in IGNORED_CORE_FLAGS]
        self.print_columns(ParserContext(args=shown).help_tuples())
        self.list_tasks()

    def print_task_help(self, name: str) -> None:
        """invoke's per-task help, with positional arguments shown as positional."""
        print_task_help(self.collection[name], name, self)


def _long_flags(names: tuple[str, ...]) -> list[str]:
    return [f"--{n}" for n in names if len(n) > 1]


def _flag_forms(names: tuple[str, ...]) -> set[str]:
    return {f"--{n}" if len(n) > 1 else f"-{n}" for n in names}


def _looks_like_path(word: str) -> bool:
    """A word given where a task name could go that is rather a file: a slash, a dot start, or on disk."""
    return "/" in word or word.startswith((".", "~")) or os.path.lexists(word)


def _words_after(argv: list[str], word: str) -> list[str]:
    """``word`` and the words after it up to the next option or ``--``: the paths given one too many."""
    start = argv.index(word) if word in argv else len(argv)
    out: list[str] = []
    for token in argv[start:]:
        if token.startswith("-"):
            break
        out.append(token)
    return out or [word]


def _value_choices(name: str) -> str:
    """What a flag that takes a value accepts, where packbin knows it ("" where it does not)."""
    if name in ("arch", "deploy_arch"):
        from packbin.config.model import builtin_config

        names = [a.name for a in builtin_config().architectures]
        return ", ".join([*names, *(["all"] if name == "arch" else []), "..."])
    return {
        "jobs": "a whole number; 0: all at once",
        "binary": "a [[binaries]] name of buildcfg.toml",
        "also": "a file or directory",
    }.get(name, "")


def _needs_value(task: str | None, arg: Argument) -> str:
    """``--arch needs a value (x86_64, arm64, all, ...)`` and how to give it."""
    flag = next(iter(_long_flags(arg.names)), f"-{arg.names[0]}")
    choices = _value_choices(arg.name or "")
    where = f"`packbin {task} --help`" if task else "`packbin --help`"
    return f"{flag} needs a value{f' ({choices})' if choices else ''}\n  hint: give it as {flag}=VALUE or {flag} VALUE; {where} says what it takes"


def _flag_without_value(argv: list[str], contexts: dict[str, ParserContext]) -> tuple[str, Argument] | None:
    """A flag that takes a value given without one where invoke would not notice: a repeatable one
    (``--binary`` last, or followed by another of the task's options: invoke takes that as no
    ``--binary`` at all, and builds everything) or an empty ``--arch=`` or ``--arch ""`` (the
    default, silently).
    (task, argument), or None."""
    current: ParserContext | None = None
    body = argv[: argv.index("--")] if "--" in argv else argv
    for i, token in enumerate(body):
        if token in contexts:
            current = contexts[token]
            continue
        if current is None or not token.startswith("-"):
            continue
        flag, sep, value = token.partition("=")
        arg = current.flags.get(flag) if flag in current.flags else None
        if arg is None or not arg.takes_value:
            continue
        following = body[i + 1].partition("=")[0] if i + 1 < len(body) else None
        # invoke takes the next word as the value unless it is one of the task's flags.
        if (
            (sep and not value)
            or (not sep and following == "")
            or (
                not sep
                and arg.kind is list
                and (following is None or following in current.flags or following in current.inverse_flags)
            )
        ):
            return str(current.name), arg
    return None


def _suggest(name: str, tasks: list[str]) -> str | None:
    """The task ``name`` was probably meant to be: a close whole name, else a close prefix (buidl -> build-...)."""
    close = difflib.get_close_matches(name, tasks, n=1)
    if close:
        return close[0]
    prefixes = {t[: len(name)]: t for t in sorted(tasks, reverse=True)}  # the first task wins a shared prefix
    close = difflib.get_close_matches(name, list(prefixes), n=1, cutoff=0.75)
    return prefixes[close[0]] if close else None


def _help_target(argv: list[str], tasks: list[str]) -> str | None:
    """The task whose ``--help``/``-h`` appears among its arguments (before a bare ``--``), if any."""
    current: str | None = None
    for token in argv:
        if token == "--":
            return None
        if token in tasks:
            current = token
        elif token in HELP_TOKENS and current is not None:
            return current
    return None


program = PackbinProgram(namespace=ns, version=__version__, name="packbin", binary="packbin")


def main() -> None:
    """The ``packbin`` console script: run the command line with packbin's signal handling and exit codes."""
    install_signal_handlers()
    try:
        program.run()
        sys.stdout.flush()
    except BrokenPipeError:
        # `packbin --list | head -1`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and exit like a process killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(128 + 13) from None


if __name__ == "__main__":
    main()
