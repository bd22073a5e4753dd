"""Hostile spec files: values outside JSON's domain, YAML tags and aliases, deep nesting, huge files.

Each case is one file that wiam must refuse with a spec error at (line, column), whose message
holds `message`; `name` is shared by the same case written in several formats. Other tests import
CASES (name, filename, text first).
"""

from typing import NamedTuple


class Case(NamedTuple):
    name: str
    filename: str
    text: str
    line: int = 1
    column: int = 1
    message: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}-{self.filename.rsplit('.', 1)[1]}"


BIG = "123456789012345678901234567890"
HUGE = "9" * 5000  # more digits than int() converts
DEEP = 100_000
TOO_DEEP = "nest deeper than 64 levels"
RANGE, FINITE, CHARACTER = "is outside ±9007199254740991", "is not finite", "is not a Unicode character"
SURROGATE, ALIAS, TAG = "lone surrogate", "anchors and aliases", "is not supported"


def _in_every_format(name: str, literal: str, message: str) -> list[Case]:
    """`x = literal` in HCL, JSON and YAML (where the literal is written the same way)."""
    return [Case(name, "a.wiam.hcl", f"x = {literal}\n", 1, 5, message),
            Case(name, "a.wiam.json", f'{{"x": {literal}}}', 1, 7, message),
            Case(name, "a.wiam.yaml", f"x: {literal}\n", 1, 4, message)]


def _billion_laughs() -> str:
    text, previous = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n', "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        previous = name
    return text


CASES: list[Case] = [
    # numbers beyond the integer bound, and not finite
    *_in_every_format("big-integer", BIG, RANGE),
    *_in_every_format("two-to-the-53", str(2**53), RANGE),
    *_in_every_format("thousands-of-digits", HUGE, RANGE),
    *_in_every_format("float-overflow", "1.0e+400", FINITE),
    Case("big-integer-in-list", "a.wiam.hcl", f"x = [1, 2, {BIG}]\n", 1, 12, RANGE),
    Case("negative-big-integer", "a.wiam.hcl", f"x = -{BIG}\n", 1, 5, RANGE),
    Case("negative-big-integer", "a.wiam.json", f'{{"x": -{BIG}}}', 1, 7, RANGE),
    Case("negative-big-integer", "a.wiam.yaml", f"x: -{BIG}\n", 1, 4, RANGE),
    Case("big-integer-in-block", "a.wiam.hcl", f'workload "w" {{\n  quota = {BIG}\n}}\n', 2, 11, RANGE),
    Case("yaml-nan", "a.wiam.yaml", "x: .nan\n", 1, 4, FINITE),
    Case("yaml-infinity", "a.wiam.yaml", "x:\n  - -.inf\n", 2, 5, FINITE),
    Case("yaml-explicit-int", "a.wiam.yaml", f"x: !!int '{BIG}'\n", 1, 4, RANGE),
    Case("json-nan", "a.wiam.json", '{"x": NaN}', 1, 7, "expected a value"),
    Case("json-infinity", "a.wiam.json", '{"x": -Infinity}', 1, 7, "expected a value"),
    # strings that are no Unicode text
    Case("lone-surrogate", "a.wiam.hcl", 'x = "\\ud800"\n', 1, 6, CHARACTER),
    Case("lone-surrogate", "a.wiam.json", '{"x": "\\ud800"}', 1, 7, SURROGATE),
    Case("lone-surrogate", "a.wiam.yaml", 'x: "\\ud800"\n', 1, 7, "invalid Unicode character escape"),
    Case("surrogate-pair-escapes", "a.wiam.hcl", 'x = "\\ud83d\\ude00"\n', 1, 6, CHARACTER),
    Case("surrogate-in-key", "a.wiam.json", '{"x": {"\\udc00": 1}}', 1, 8, SURROGATE),
    Case("surrogate-in-key", "a.wiam.hcl", 'x = {"\\udc00" = 1}\n', 1, 7, CHARACTER),
    Case("surrogate-in-label", "a.wiam.hcl", 'workload "\\ud800" {\n}\n', 1, 11, CHARACTER),
    Case("beyond-unicode", "a.wiam.hcl", 'x = "ok \\U00110000"\n', 1, 6, CHARACTER),
    Case("beyond-unicode", "a.wiam.yaml", 'x: "\\U00110000"\n', 1, 7, "escape"),  # libyaml marks the code
    # YAML: only the core schema's tags, no dates, no anchors or aliases
    Case("python-object", "a.wiam.yaml", 'x: !!python/object/apply:os.system ["id"]\n', 1, 4, TAG),
    Case("python-name", "a.wiam.yaml", "x: !!python/name:os.system\n", 1, 4, TAG),
    Case("binary", "a.wiam.yaml", "x: !!binary aGVsbG8=\n", 1, 4, TAG),
    Case("set", "a.wiam.yaml", "x: !!set {a, b}\n", 1, 4, TAG),
    Case("omap", "a.wiam.yaml", "x: !!omap [a: 1, b: 2]\n", 1, 4, TAG),
    Case("pairs", "a.wiam.yaml", "x:\n  y: !!pairs\n    - a: 1\n", 2, 6, TAG),
    Case("custom-tag", "a.wiam.yaml", "x: !vault secret/path\n", 1, 4, TAG),
    Case("map-tag-on-list", "a.wiam.yaml", "x: !!map [1]\n", 1, 4, TAG),
    Case("not-an-int", "a.wiam.yaml", "x: !!int twelve\n", 1, 4, "is not a YAML int"),
    Case("not-a-bool", "a.wiam.yaml", "x: !!bool maybe\n", 1, 4, "is not a YAML bool"),
    Case("date", "a.wiam.yaml", "x: 2026-01-01\n", 1, 4, "reads as a YAML date"),
    Case("timestamp", "a.wiam.yaml", "x: [a, 2026-01-01T10:00:00Z]\n", 1, 8, "date or time"),
    Case("tagged-key", "a.wiam.yaml", "!!binary aGk=: x\n", 1, 1, "keys must be plain strings"),
    Case("merge-key", "a.wiam.yaml", "x:\n  <<: {a: 1}\n", 2, 3, "keys must be plain strings"),
    Case("complex-key", "a.wiam.yaml", "? [a, b]\n: x\n", 1, 3, "keys must be plain strings"),
    Case("alias", "a.wiam.yaml", "a: &x [1]\nb: *x\n", 1, 4, ALIAS),
    Case("billion-laughs", "a.wiam.yaml", _billion_laughs(), 1, 4, ALIAS),
    Case("recursive-alias", "a.wiam.yaml", "a: &x [*x]\n", 1, 4, ALIAS),
    Case("undefined-alias", "a.wiam.yaml", "a: *nowhere\n", 1, 4, ALIAS),
    Case("control-character", "a.wiam.yaml", "a: 1\nb: x\x07y\n", 2, 5, "U+0007 is not allowed in YAML"),
    Case("second-document", "a.wiam.yaml", "a: 1\n---\nb: 2\n", 2, 1, "another document"),
    # nesting far beyond the limit: refused where level 65 opens, before any recursion
    Case("deep-lists", "a.wiam.hcl", "x = " + "[" * DEEP + "]" * DEEP + "\n", 1, 5 + 63, TOO_DEEP),
    Case("deep-lists", "a.wiam.json", '{"x": ' + "[" * DEEP + "]" * DEEP + "}", 1, 7 + 63, TOO_DEEP),
    Case("deep-lists", "a.wiam.yaml", "x: " + "[" * DEEP + "]" * DEEP + "\n", 1, 4 + 63, TOO_DEEP),
    Case("deep-objects", "a.wiam.hcl", "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n", 1, 5 + 5 * 63, TOO_DEEP),
    Case("deep-objects", "a.wiam.json", '{"x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}", 1, 7 + 6 * 63, TOO_DEEP),
    Case("deep-objects", "a.wiam.yaml", "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "1\n",
         65, 1 + 2 * 64, TOO_DEEP),  # the mapping at depth k starts on line k + 1
    # an unlabeled block's body is the item of a list: depth (path length) 2 on line 1, 2n on line n
    Case("deep-blocks", "a.wiam.hcl", "a {\n" * 10_000 + "}\n" * 10_000, 32, 1, TOO_DEEP),
    # user text a message quotes is cut short
    Case("long-repeated-key", "a.wiam.json", '{"%s": 1, "%s": 2}' % ("k" * 10_000, "k" * 10_000), 1, 10_009,
         "appears twice"),
    Case("long-repeated-key", "a.wiam.yaml", "? %s\n: 1\n? %s\n: 2\n" % ("k" * 10_000, "k" * 10_000), 3, 3,
         "appears twice"),  # explicit keys: an implicit one is at most 1024 characters
    Case("long-bad-token", "a.wiam.hcl", "x = = " + "a" * 10_000 + "\n", 1, 5, "HCL syntax error"),
    # files too large to parse within a small multiple of their size
    Case("huge-file", "a.wiam.hcl", 'x = "' + "a" * 600_000 + '"\n', 1, 1, "more than the 524,288"),
    Case("huge-data-file", "a.wiam.json", '{"x": "' + "a" * 2_700_000 + '"}', 1, 1, "more than the 2,621,440"),
    Case("huge-data-file", "a.wiam.yaml", 'x: "' + "a" * 2_700_000 + '"\n', 1, 1, "more than the 2,621,440"),
]

# What a pull request's commits may carry in their messages and author names: markup and script for
# an HTML page, terminal escapes, a bidi override, a spreadsheet formula, template syntax.
COMMIT_TEXT = ["</script><script>window.pwned=1</script><img src=x onerror=window.pwned=2>",
               "\x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[31mred", "admin\u202egnp.exe", '=HYPERLINK("http://x")',
               "${var.x} %{ if } {{TITLE}} {{DATA}}"]
