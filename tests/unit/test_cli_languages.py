"""The ``mailslot`` commands speak the operator's language (``LANG`` …, see
``i18n.operator_locale``): every line a person reads comes from the catalogue, ``--json``
output stays English, and ``LANG=C`` is English.

Each command runs twice: against the real Korean catalogue, and against a stand-in that marks
every message it translates («…»), so a line that bypasses the catalogue shows even while the
real catalogue lacks a translation. The static test below keeps new messages from slipping past
gettext.
"""

from __future__ import annotations

import ast
import errno
import gettext
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import mailslot.cli
from mailslot import i18n
from mailslot.backup.restore import CHECKING, INTACT
from mailslot.cli.backup import UNREADABLE
from mailslot.cli.help import Command, Group
from mailslot.cli.main import main
from mailslot.cli.offline import decrypt as decrypt_command
from mailslot.config import Config
from mailslot.crypto import TEST_KDF, seal_keyfile
from mailslot.runtime import Runtime
from tests.databases import drop_database, empty_database
from tests.unit.test_decrypt_names import READER, Case, bundle, file
from tests.unit.test_services import PASSWORD

pytestmark = pytest.mark.timeout(300)

UNSET = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None}
KOREAN: Mapping[str, str | None] = {**UNSET, "LANG": "ko_KR.UTF-8"}
ENGLISH: Mapping[str, str | None] = {**UNSET, "LANG": "C"}


class Marked(gettext.NullTranslations):
    """A stand-in Korean catalogue: each message it is asked for comes back marked."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"«{msgid1 if n == 1 else msgid2}»"


@pytest.fixture(params=["catalogue", "marked"])
def catalogue(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "marked":
        real = i18n.translations
        monkeypatch.setattr(
            i18n, "translations", lambda locale: Marked() if locale == "ko" else real(locale)
        )
    return str(request.param)


def ko(message: str, **params: object) -> str:
    return i18n.translate("ko", message, params or None)


def ko_n(singular: str, plural: str, num: int, **params: object) -> str:
    return i18n.translate_plural("ko", singular, plural, num, params)


def shape(message: str) -> re.Pattern[str]:
    """The Korean text of ``message`` with any value in place of each parameter."""
    parts = re.split(r"%\(\w+\)s", i18n.translate("ko", message))
    return re.compile(".+?".join(re.escape(part) for part in parts))


def has_line(result: Result, message: str) -> bool:
    return any(shape(message).fullmatch(line) for line in result.output.splitlines())


def run(config: Config, env: Mapping[str, str | None], *args: str, stdin: str = "") -> Result:
    where = ["--data-dir", str(config.data_dir)]
    if config.database_url:
        where += ["--database-url", config.database_url]
    return CliRunner().invoke(
        main, [*where, *args], input=stdin, env={**env, "MAILSLOT_KDF": TEST_KDF.encode()}
    )


def test_staff_commands_print_the_korean_catalogue(
    catalogue: str, config: Config, runtime: Runtime
) -> None:
    added = run(
        config,
        KOREAN,
        *("users", "add", "--username", "ann", "--role", "admin", "--password-file", "-"),
        stdin=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    lines = added.output.splitlines()
    assert lines[0] == ko("Created %(role)s %(username)s.", role="admin", username="ann")
    assert has_line(added, "TOTP secret (add it to an authenticator app): %(secret)s")
    assert has_line(added, "Recovery key (shown once, keep it offline): %(key)s")

    channel = run(config, KOREAN, "channels", "add", "--name", "desk")
    assert channel.exit_code == 0, channel.output
    assert channel.output == ko("Created channel %(name)s.", name="desk") + "\n"

    refused = run(config, KOREAN, "users", "set-display-name", "nobody", "N")
    assert refused.exit_code == 1
    assert ko("No account is named %(username)s.", username=repr("nobody")) in refused.output

    usage = run(config, KOREAN, "backup", "--out", "x", "--org", "default", "--all")
    assert usage.exit_code == 2
    assert ko("Give --org or --all, not both.") in usage.output

    # --json stays English (and unmarked) whatever the language.
    listed = run(config, KOREAN, "channels", "add", "--name", "tips", "--json")
    assert json.loads(listed.output)["name"] == "tips"


def test_check_prints_findings_in_korean_and_json_in_english(
    catalogue: str, config: Config, runtime: Runtime
) -> None:
    checked = run(config, KOREAN, "check")
    dialect = "postgresql" if config.database_url else "sqlite"
    database = ko("database") + ": " + ko("reachable (%(dialect)s)", dialect=dialect)
    marks = [ko("ok"), ko("warn"), ko("FAIL")]
    width = max(len(mark) for mark in marks)
    lines = checked.output.splitlines()
    assert f"{marks[0].ljust(width)} {database}" in lines
    # No admin yet: a warning, counted, with what to do on the next line.
    admins = ko_n("%(num)s active admin(s)", "%(num)s active admin(s)", 0)
    warning = f"{marks[1].ljust(width)} {ko('administrator')}: {admins}"
    assert warning in lines
    fix = "open the setup link (`mailslot setup-link`) or `mailslot users add --role admin`"
    assert lines[lines.index(warning) + 1] == " " * width + " " + ko("fix: %(fix)s", fix=ko(fix))
    registry = ko_n(
        "%(num)s organisation(s), %(enabled)s enabled",
        "%(num)s organisation(s), %(enabled)s enabled",
        1,
        enabled=1,
    )
    assert f"{marks[0].ljust(width)} {ko('host registry')}: {registry}" in lines
    if catalogue == "marked":  # every name and detail went through the catalogue
        for line in lines:
            assert re.fullmatch(r"«\w+» +«[^«»]+»: «.+»|  +«fix: .+»", line), line

    as_json = run(config, KOREAN, "check", "--json")
    findings = {f["name"]: f for f in json.loads(as_json.output)}
    assert findings["database"]["detail"] == f"reachable ({dialect})"
    assert "«" not in as_json.output


def test_orgs_add_and_list_in_korean(catalogue: str, config: Config, runtime: Runtime) -> None:
    added = run(config, KOREAN, "orgs", "add", "--slug", "acme", "--name", "Acme")
    assert added.exit_code == 0, added.output
    assert has_line(added, "Created organisation %(slug)s (%(id)s).")
    assert ko("One-time setup link for its first admin (valid 24 hours):") in added.output
    listed = run(config, KOREAN, "orgs", "list")
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if "acme" in line)
    assert line == ko(
        "%(slug)s%(state)s\tcases %(cases)s\tstored %(stored)s of %(quota)s\t"
        "staff %(staff)s\thosts %(hosts)s",
        slug="acme",
        state="",
        cases="0",
        stored=i18n_size(0),
        quota=ko("no limit"),
        staff=0,
        hosts="-",
    )


def i18n_size(size: int) -> str:
    from mailslot.sizes import human_size

    return human_size(size, "ko")


@pytest.fixture
def empty_target(tmp_path: Path) -> Iterator[Config]:
    """Where a restore may build a new instance: a new data directory and empty database."""
    from mailslot.config import load_config

    database = empty_database()
    overrides = {"database_url": database} if database else {}
    yield load_config({}, data_dir=tmp_path / "restored", kdf=TEST_KDF, **overrides)
    drop_database(database)


def test_backup_and_restore_in_korean(
    catalogue: str, config: Config, runtime: Runtime, empty_target: Config, tmp_path: Path
) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple quietly\n")
    archive = tmp_path / "backup.msla"
    made = run(
        config, KOREAN, "backup", "--out", str(archive), "--passphrase-file", str(passphrase)
    )
    assert made.exit_code == 0, made.output
    assert has_line(
        made,
        "Wrote %(path)s%(label)s: %(rows)s in %(tables)s and %(files)s (%(size)s of "
        "ciphertext), by Mailslot %(version)s, schema revision %(schema)s.",
    )
    keep_apart = ko(
        "Keep the passphrase apart from the archive: without it nothing can be restored, "
        "and with it anyone holding the archive gets everything the server stores."
    )
    assert keep_apart in made.output.splitlines()

    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all, sorry\n")
    refused = run(empty_target, KOREAN, "restore", str(archive), "--passphrase-file", str(wrong))
    assert refused.exit_code == 1
    assert ko(UNREADABLE) in refused.output

    restored = run(
        empty_target, KOREAN, "restore", str(archive), "--passphrase-file", str(passphrase)
    )
    assert restored.exit_code == 0, restored.output
    assert has_line(
        restored,
        "Restored %(rows)s and %(files)s (%(size)s) %(where)s, from a backup made by "
        "Mailslot %(version)s.",
    )
    assert ko("Start it with `mailslot serve`, with the same settings as here.") in (
        restored.output.splitlines()
    )
    # The progress lines come from the backup package (LazyText), shown in Korean here.
    assert [ko(CHECKING.message), ko(INTACT.message)] == restored.output.splitlines()[:2]

    again = run(empty_target, KOREAN, "restore", str(archive), "--passphrase-file", str(passphrase))
    assert again.exit_code == 1
    not_empty = ko(
        "The data directory %(path)s is not empty. Restore into a new, empty directory; "
        "nothing was changed.",
        path=str(empty_target.data_dir),
    )
    assert not_empty in again.output


def test_whole_install_backup_progress_in_korean(
    catalogue: str, config: Config, runtime: Runtime, tmp_path: Path
) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple quietly\n")
    out = tmp_path / "everything"
    made = run(
        config, KOREAN, "backup", "--all", "--out", str(out), "--passphrase-file", str(passphrase)
    )
    assert made.exit_code == 0, made.output
    progress = ko(
        "Backing up organisation %(number)s of %(total)s (%(slug)s)",
        number=1,
        total=1,
        slug="default",
    )
    assert progress in made.output.splitlines()


@pytest.mark.no_database
def test_decrypt_reports_in_korean(
    catalogue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "case.bundle").write_bytes(bundle(Case("b", [file("x.pdf")])))
    (tmp_path / "key").write_bytes(seal_keyfile(READER.seed, "a passphrase", TEST_KDF))
    (tmp_path / "pass.txt").write_text("a passphrase\n")
    args = [str(tmp_path / "case.bundle"), "--key", str(tmp_path / "key")]
    args += ["--out", str(tmp_path / "out"), "--passphrase-file", str(tmp_path / "pass.txt")]
    result = CliRunner().invoke(decrypt_command, args, env=dict(KOREAN))
    assert result.exit_code == 0, result.output
    assert has_line(result, "Key fingerprint: %(fingerprint)s")
    cases = ko_n("%(num)s case", "%(num)s cases", 1)
    items = ko_n(
        "Case %(case)s: %(ok)s of %(num)s item in %(folder)s",
        "Case %(case)s: %(ok)s of %(num)s items in %(folder)s",
        1,
        case="b",
        ok=1,
        folder=tmp_path / "out" / "b",
    )
    assert items in result.output.splitlines()
    wrote = shape("Wrote %(files)s for %(cases)s into %(path)s.")
    assert any(wrote.fullmatch(line) and cases in line for line in result.output.splitlines())

    (tmp_path / "wrong.txt").write_text("another passphrase\n")
    args[-1] = str(tmp_path / "wrong.txt")
    args[args.index("--out") + 1] = str(tmp_path / "out2")
    refused = CliRunner().invoke(decrypt_command, args, env=dict(KOREAN))
    assert refused.exit_code == 1
    wrong = ko("The passphrase is wrong, or the key file is damaged. Nothing was written.")
    assert wrong in refused.output


@pytest.mark.no_database
def test_decrypt_reports_an_unwritten_item_in_korean(
    catalogue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailslot.offline import decrypt as decrypting

    real_rename = os.rename

    def rename(src: str, dst: str) -> None:
        if Path(dst).name == "full.pdf":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    (tmp_path / "case.bundle").write_bytes(bundle(Case("a", [file("full.pdf")])))
    (tmp_path / "key").write_bytes(seal_keyfile(READER.seed, "a passphrase", TEST_KDF))
    (tmp_path / "pass.txt").write_text("a passphrase\n")
    args = [str(tmp_path / "case.bundle"), "--key", str(tmp_path / "key")]
    args += ["--out", str(tmp_path / "out"), "--passphrase-file", str(tmp_path / "pass.txt")]
    result = CliRunner().invoke(decrypt_command, args, env=dict(KOREAN))
    assert result.exit_code == 1, result.output
    # The problem is itself translated inside the translated line.
    problem = ko(
        "it could not be written as %(name)s (%(reason)s)",
        name="full.pdf",
        reason=os.strerror(errno.ENOSPC),
    )
    line = ko(decrypting.ITEM_NOT_WRITTEN, case="a", item=1, problem=problem)
    assert line in result.output.splitlines()
    # The index file beside the cases stays English.
    index = (tmp_path / "out" / "a" / decrypting.INDEX_NAME).read_text()
    assert "NOT WRITTEN: it could not be written as full.pdf" in index


@pytest.mark.no_database
def test_inspect_names_finding_kinds_in_korean(catalogue: str, tmp_path: Path) -> None:
    from mailslot.documents.findings import LABELS
    from tests.unit.test_documents_sandbox import photo

    (tmp_path / "photo.jpg").write_bytes(photo())
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "photo.jpg")], env=dict(KOREAN))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"  {ko(LABELS['gps'])}: ") for line in lines)
    if catalogue == "marked":
        assert not any(line.startswith("  gps: ") for line in lines)


@pytest.mark.no_database
def test_usage_errors_are_framed_in_korean(catalogue: str, tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path), "users", "add"]
    result = CliRunner().invoke(main, args, prog_name="mailslot", env=dict(KOREAN))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == ko("Usage: ") + "mailslot users add [OPTIONS]"
    try_help = "Try '%(command)s %(option)s' for help."
    assert ko(try_help, command="mailslot users add", option="--help") in lines
    # Click's own message stays English inside our frame.
    assert ko("Error: %(error)s", error="Missing option '--username'.") in lines

    english = CliRunner().invoke(main, args, prog_name="mailslot", env=dict(ENGLISH))
    assert english.output == (
        "Usage: mailslot users add [OPTIONS]\n"
        "Try 'mailslot users add --help' for help.\n\n"
        "Error: Missing option '--username'.\n"
    )


def test_lang_c_is_english(catalogue: str, config: Config, runtime: Runtime) -> None:
    channel = run(config, ENGLISH, "channels", "add", "--name", "desk")
    assert channel.output == "Created channel desk.\n"
    refused = run(config, ENGLISH, "users", "set-display-name", "nobody", "N")
    assert refused.output == "Error: No account is named 'nobody'.\n"
    checked = run(config, ENGLISH, "check")
    assert "«" not in checked.output
    assert "ok   database: reachable (" in checked.output


# -- no message slips past gettext ----------------------------------------------------------------

# Calls that show their text arguments to a person.
SHOWN: frozenset[str] = frozenset(
    {"echo", "secho", "prompt", "confirm", "ClickException", "UsageError", "BadParameter"}
)
TRANSLATED: frozenset[str] = frozenset({"_", "ngettext"})
TEXT_KEYWORDS: frozenset[str] = frozenset({"text", "message", "confirmation_prompt"})
WORD = re.compile(r"[A-Za-z]{2,}")


def _called(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _bare_words(node: ast.expr) -> list[str]:
    """English written into ``node`` outside ``_()`` / ``ngettext()``."""
    if isinstance(node, ast.Call):
        return []  # translated, or a value computed elsewhere (checked where it is written)
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) and WORD.search(node.value) else []
    if isinstance(node, ast.JoinedStr):
        found = []
        for part in node.values:
            if isinstance(part, ast.Constant) and WORD.search(str(part.value)):
                found.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                found += _bare_words(part.value)
        return found
    if isinstance(node, ast.IfExp):
        return _bare_words(node.body) + _bare_words(node.orelse)
    if isinstance(node, ast.BinOp):
        return _bare_words(node.left) + _bare_words(node.right)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [word for element in node.elts for word in _bare_words(element)]
    return []


def offences(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _called(node.func) in SHOWN:
            texts = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS)]
            found += [(node.lineno, word) for text in texts for word in _bare_words(text)]
    return found


def test_the_check_catches_bare_english() -> None:
    assert offences('click.echo("Created.")') == [(1, "Created.")]
    assert offences('raise click.ClickException(f"{path} exists already")')
    assert offences('click.prompt(_("Password"), confirmation_prompt="Repeat it")')
    assert offences('click.echo("ok" if done else _("not yet"))') == [(1, "ok")]
    assert not offences('click.echo(_("Created %(name)s.", name=name))')
    assert not offences('click.echo(f"{user.username}\\t{user.role}")')  # values only


def test_every_cli_message_goes_through_gettext() -> None:
    folder = Path(mailslot.cli.__file__).parent
    found = {
        f"{path.name}:{line}": word
        for path in sorted(folder.glob("*.py"))
        for line, word in offences(path.read_text(encoding="utf-8"))
    }
    assert found == {}


# -- --help ----------------------------------------------------------------------------------------


def every_command(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from every_command(sub, (*path, name))


COMMANDS = list(every_command(main))
# What a help page may show unmarked: click's placeholders around the names of commands and
# options, their metavars and choices (taken from the commands themselves, below).
PLACEHOLDERS = frozenset({"mailslot", "OPTIONS", "COMMAND", "ARGS", "x"})  # x: "[0<=x]"
# A marked text; a short help that click cut ("…to one...") loses its closing mark.
MARKED_TEXT = re.compile(r"«[^»]*?(?:»|\.\.\.$)", re.MULTILINE)
TOKEN = re.compile(r"[A-Za-z][\w-]*")


def names_of(command: click.Command, ctx: click.Context) -> set[str]:
    """Every word a help page of ``command`` may show untranslated."""
    shown = " ".join(command.commands) if isinstance(command, click.Group) else ""
    for param in command.get_params(ctx):
        shown += " " + " ".join([*param.opts, *param.secondary_opts])
        shown += " " + param.make_metavar(ctx)
    return set(TOKEN.findall(shown))


def unmarked(page: str, allowed: set[str]) -> set[str]:
    return set(TOKEN.findall(MARKED_TEXT.sub(" ", page))) - allowed - PLACEHOLDERS


def marked_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    real = i18n.translations
    monkeypatch.setattr(
        i18n, "translations", lambda locale: Marked() if locale == "ko" else real(locale)
    )


def help_offences(source: str) -> list[tuple[int, str]]:
    """Help texts that scripts/i18n would not extract: a literal not inside ``N_()``, or a
    command whose help is its docstring."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in {"help", "short_help", "epilog"} and _bare_words(keyword.value):
                    found.append((node.lineno, keyword.arg))
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and _called(decorator.func) in {"command", "group"}
                    and not any(keyword.arg == "help" for keyword in decorator.keywords)
                ):
                    found.append((decorator.lineno, f"{node.name}: no help="))
    return found


def test_the_help_extraction_check_catches_unmarked_help() -> None:
    assert help_offences('@click.option("--x", help="Words.")\ndef f(): pass') == [(1, "help")]
    assert help_offences('@users.command("add")\ndef add():\n    """Words."""') == [
        (1, "add: no help=")
    ]
    assert not help_offences('@users.command("add", help=N_("Words."))\ndef add(): pass')
    assert not help_offences("click.option(flag, type=int, help=text)")


def test_every_help_text_is_marked_for_extraction() -> None:
    folder = Path(mailslot.cli.__file__).parent
    found = {
        f"{path.name}:{line}": what
        for path in sorted(folder.glob("*.py"))
        for line, what in help_offences(path.read_text(encoding="utf-8"))
    }
    assert found == {}


def test_the_help_check_catches_a_plain_click_command(monkeypatch: pytest.MonkeyPatch) -> None:
    marked_catalogue(monkeypatch)
    group = Group("tool")
    group.add_command(click.Command("plain", help="Plain words."))
    group.add_command(Command("ours", help="Our words."))
    shown = CliRunner().invoke(group, ["plain", "--help"], env=dict(KOREAN))
    assert unmarked(shown.output, {"plain", "tool", "help"}) == {"Usage", "Plain", "words"} | {
        "Show",
        "this",
        "message",
        "and",
        "exit",
        "Options",
    }
    ours = CliRunner().invoke(group, ["ours", "--help"], env=dict(KOREAN))
    assert unmarked(ours.output, {"ours", "tool", "help"}) == set()
    assert "«Our words.»" in ours.output


def test_there_are_commands_to_check() -> None:
    paths = {" ".join(path) for path, _command in COMMANDS}
    assert {"", "users", "users add", "keys verify", "backup", "orgs quota"} <= paths
    assert len(paths) > 40


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_help_page_is_translated(
    path: tuple[str, ...], command: click.Command, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marked_catalogue(monkeypatch)
    where = ["--data-dir", str(tmp_path)]
    args = [*where, *path, "--help"]
    result = CliRunner().invoke(main, args, prog_name="mailslot", env=dict(KOREAN))
    assert result.exit_code == 0, result.output
    page = result.output
    assert page.startswith("«Usage: »mailslot")
    assert "«Options»:" in page
    if isinstance(command, click.Group):
        assert "«Commands»:" in page
    if command.help:
        assert "«" + command.help.split()[0] in page  # its own help, marked
    with click.Context(command, info_name=path[-1] if path else "mailslot") as ctx:
        allowed = set(path) | names_of(command, ctx)
    assert unmarked(page, allowed) == set(), page


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_english_help_is_clicks_own(
    path: tuple[str, ...], command: click.Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In English the pages are exactly what click itself writes (a positive control for the
    test above: the same texts, translated through the catalogue rather than by click)."""
    for name, value in ENGLISH.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with click.Context(command, info_name="mailslot", terminal_width=80) as ctx:
        ours = command.get_help(ctx)
        formatter = ctx.make_formatter()
        base = click.Group if isinstance(command, click.Group) else click.Command
        base.format_help(command, ctx, formatter)
        assert ours == formatter.getvalue().rstrip("\n")
        assert ours.startswith("Usage: mailslot")
