"""The text a reader sees for a line of Streamlit Markdown (AppTest only gives the source)."""

from __future__ import annotations

from markdown_it import MarkdownIt

# CommonMark plus GFM strikethrough, as Streamlit renders; `text_join` off keeps each backslash
# escape or character reference its own token, so an escaped `$` can be told from a bare one.
_PARSER = MarkdownIt("commonmark").enable("strikethrough").disable("text_join")
# Tokens that are markup only: their text is in the tokens between them.
_MARKUP = {"link_open", "link_close", "em_open", "em_close", "strong_open", "strong_close",
           "s_open", "s_close"}


def rendered_text(markdown: str) -> str:
    """What `markdown` (one line, e.g. an `st.title`) shows, as plain text.

    markdown-it resolves escapes, character references, links and emphasis as Streamlit's
    renderer does. Streamlit also renders `$...$` as LaTeX (remark-math), which markdown-it does
    not know: a `$` that is not backslash-escaped is dropped, as a math delimiter is, so such
    text never equals its source. Anything else (an image, raw HTML) shows as `<token type>`.
    """
    parts = []
    for token in _PARSER.parseInline(markdown)[0].children or []:
        if token.type == "text":
            parts.append(token.content.replace("$", ""))
        elif token.type in {"text_special", "code_inline"}:  # an escape or reference; code
            parts.append(token.content)
        elif token.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif token.type not in _MARKUP:
            parts.append(f"<{token.type}>")
    return "".join(parts)
