"""The spec examples of a Markdown page, for the tests that hold the docs to the compiler."""

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt


@dataclass(frozen=True)
class DocBlock:
    """A fenced spec example of a Markdown page, with the marks the page gives it."""
    lang: str  # hcl, yaml or json
    text: str
    line: int  # where the fence opens, 1-based
    fragment: bool  # ```hcl fragment: a part of a spec, which must only parse
    contract: str | None  # <!-- contract: PATH -->: PATH holds this example verbatim
    same_as_previous: bool  # <!-- same output as the example above -->


def doc_blocks(markdown: str) -> list[DocBlock]:
    """The hcl, yaml and json examples of a Markdown page, in order."""
    blocks = []
    tokens = MarkdownIt().parse(markdown)
    for index, token in enumerate(tokens):
        lang, _, rest = token.info.partition(" ")
        if token.type != "fence" or lang not in ("hcl", "yaml", "json"):
            continue
        before = tokens[index - 1] if index else None  # a mark is the HTML comment right above the fence
        mark = before.content.strip() if before is not None and before.type == "html_block" else ""
        contract = re.fullmatch(r"<!-- contract: (\S+) -->", mark)
        blocks.append(DocBlock(lang, token.content, token.map[0] + 1, rest.strip() == "fragment",
                               contract[1] if contract else None,
                               mark == "<!-- same output as the example above -->"))
    return blocks
