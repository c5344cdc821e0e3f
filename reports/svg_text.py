"""Draw simple SVG ``<text>`` in one piece in WeasyPrint, instead of letter by letter.

WeasyPrint (up to at least 70) draws every SVG text node *code point by code point*: one
Pango layout, one ``split_first_line`` and one ``draw_first_line`` per character, so that
per-glyph ``x``/``y``/``dx``/``dy``/``rotate`` lists, ``letter-spacing`` and ``textLength``
can be honoured (``weasyprint/svg/text.py``). The accountability report's 12 charts hold
about 270 text nodes and 3,900 characters, and drawing them that way took longer than
laying out the whole rest of the report. Upstream knows (Kozea/WeasyPrint#2249, "Don't
separate combining characters in SVG text": "draw the whole text ... when there's no
specified x, y, dx, dy or rotate values for specific glyphs (which is the most common case
by far)").

:func:`install` wraps WeasyPrint's SVG ``text`` handler: a text node with at most one
``x`` and one ``y``, no ``dx``/``dy``/``rotate``/``textLength``, no ``letter-spacing``,
no line break, left-to-right, is shaped and drawn as one Pango layout at the same place
the letter-by-letter code would start it; its bounding box (which ``text-anchor``
uses) and the text cursor are set the same way. Such a node may also carry
:data:`ANCHOR_ATTRIBUTE` instead of ``text-anchor`` (see there). Everything else goes to WeasyPrint's own
handler. Shaping the run as a whole also applies the font's kerning and keeps combining
marks with their base letters, as browsers do and as matplotlib assumes when it places
the labels.

The wrapper is installed only for the WeasyPrint versions it was written against
(:data:`SUPPORTED_MAJOR_VERSIONS`); on any other version WeasyPrint's handler is left
alone and charts are simply slower to print.
"""

from __future__ import annotations

import logging
from math import inf

LOGGER = logging.getLogger(__name__)

#: WeasyPrint major versions whose ``weasyprint/svg/text.py`` (and the helpers it calls:
#: ``split_first_line``, ``draw_first_line``, ``TextBox``) this was checked against. On a
#: new version, read upstream's ``text()`` again before adding it here.
SUPPORTED_MAJOR_VERSIONS = frozenset({70})

#: ``text-anchor`` under another name, honoured by the whole-run handler only. WeasyPrint
#: implements ``text-anchor: middle|end`` by drawing the text into a separate form XObject
#: and moving that by the measured width: one PDF object per label. The run's width is
#: known right here, so :mod:`reports.print_svg` moves the anchor into this attribute (only
#: while the handler is installed, see :func:`active`) and the text is placed directly.
ANCHOR_ATTRIBUTE = "data-text-anchor"

_installed = False


def active() -> bool:
    """Whether the whole-run handler is installed (and so honours ANCHOR_ATTRIBUTE)."""
    return _installed


def _simple_text_node(svg, node, font_size) -> bool:
    from weasyprint.svg.utils import normalize

    text = node.text
    if not text or "\n" in text or "\r" in text:
        return False
    if any(name in node.attrib for name in ("dx", "dy", "rotate", "textLength")):
        return False
    for name in ("x", "y"):
        if name in node.attrib and len(normalize(node.attrib[name]).strip().split(" ")) != 1:
            return False
    if node.get("direction") == "rtl" or node.get("writing-mode", "horizontal-tb") not in ("horizontal-tb", "lr", "lr-tb"):
        return False
    if ANCHOR_ATTRIBUTE in node.attrib and node.get("text-anchor", "start") != "start":
        return False  # both: leave it to upstream (which ignores ours)
    return not svg.length(node.get("letter-spacing"), font_size)


def _make_handler(original):
    def text(svg, node, font_size):
        """WeasyPrint's SVG text handler, for a text run that needs no per-glyph placement."""
        if not _simple_text_node(svg, node, font_size):
            return original(svg, node, font_size)

        from weasyprint.css.properties import INITIAL_VALUES
        from weasyprint.draw.text import draw_emojis, draw_first_line
        from weasyprint.matrix import Matrix
        from weasyprint.svg.bounding_box import extend_bounding_box
        from weasyprint.svg.text import Style, TextBox
        from weasyprint.svg.utils import normalize, size
        from weasyprint.text.line_break import split_first_line

        # The style, exactly as weasyprint.svg.text.text builds it.
        style = Style()
        style.update(INITIAL_VALUES)
        style.font_config = svg.font_config
        style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
        style["font_style"] = node.get("font-style", "normal")
        style["font_weight"] = node.get("font-weight", 400)
        style["font_size"] = font_size
        if node.get("direction") in ("ltr", "rtl"):
            style["direction"] = node.get("direction")
        if style["font_weight"] == "normal":
            style["font_weight"] = 400
        elif style["font_weight"] == "bold":
            style["font_weight"] = 700
        else:
            try:
                style["font_weight"] = int(style["font_weight"])
            except ValueError:
                style["font_weight"] = 400

        layout, _, _, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)

        x = y = None
        if "x" in node.attrib:
            x = size(normalize(node.attrib["x"]).strip(), font_size, svg.inner_width)
        if "y" in node.attrib:
            y = size(normalize(node.attrib["y"]).strip(), font_size, svg.inner_height)

        # Vertical alignment, as upstream (ascent/descent are upstream's estimates too).
        ascent, descent = font_size * 0.8, font_size * 0.2
        y_align = 0
        display_anchor = node.get("display-anchor")
        alignment_baseline = node.get("dominant-baseline", node.get("alignment-baseline"))
        if display_anchor == "middle":
            y_align = -height / 2
        elif display_anchor == "top":
            pass
        elif display_anchor == "bottom":
            y_align = -height
        elif alignment_baseline in ("central", "middle"):
            y_align = (ascent + descent) / 2 - descent
        elif alignment_baseline in ("text-before-edge", "before_edge", "top", "hanging", "text-top"):
            y_align = ascent
        elif alignment_baseline in ("text-after-edge", "after_edge", "bottom", "text-bottom"):
            y_align = -descent

        # The first letter's placement in upstream's loop, then the cursor after the last.
        if x is not None:
            svg.cursor_d_position[0] = 0
        if y is not None:
            svg.cursor_d_position[1] = 0
        x = svg.cursor_position[0] if x is None else x
        y = svg.cursor_position[1] if y is None else y
        # A print copy's anchor (see ANCHOR_ATTRIBUTE): the run's own width, no group.
        x -= {"middle": width / 2, "end": width}.get(node.attrib.get(ANCHOR_ATTRIBUTE), 0)
        svg.cursor_position = x + width, y
        x_position = x + svg.cursor_d_position[0]
        y_position = y + svg.cursor_d_position[1] + y_align
        node.text_bounding_box = extend_bounding_box(
            node.text_bounding_box,
            ((x_position, y_position - baseline), (x_position + width, y_position - baseline + height)))

        svg.stream.push_state()
        fill, stroke = svg.set_graphical_state(node, font_size)
        svg.stream.begin_text()
        layout.reactivate(style)
        svg.fill_stroke(fill, stroke, text=True)
        text_box = TextBox(layout, style)
        text_box.baseline = baseline
        emojis = draw_first_line(svg.stream, text_box, "none", "none", Matrix(a=1, d=-1, e=x_position, f=y_position))
        svg.stream.end_text()
        svg.stream.pop_state()
        draw_emojis(svg.stream, style, x, y, emojis)

    text.wrapped = original
    return text


def install() -> bool:
    """Install the whole-run text handler into WeasyPrint's SVG renderer; True if active."""
    global _installed
    if _installed:
        return True
    import importlib

    import weasyprint

    weasy_svg = importlib.import_module("weasyprint.svg")
    weasy_text = importlib.import_module("weasyprint.svg.text")  # the module, not weasy_svg.text

    try:
        major = int(weasyprint.__version__.split(".")[0])
    except (AttributeError, ValueError):
        major = None
    original = weasy_svg.TAGS.get("text")
    if major not in SUPPORTED_MAJOR_VERSIONS or original is not weasy_text.text:
        LOGGER.info("WeasyPrint %s: SVG text is drawn letter by letter (no whole-run handler)",
                    getattr(weasyprint, "__version__", "?"))
        return False
    handler = _make_handler(original)
    # draw_node() recognises text nodes by ``TAGS.get(node.tag) == text`` (the module
    # global), to set up the text bounding box and text-anchor: replace both.
    for tag, function in list(weasy_svg.TAGS.items()):
        if function is original:
            weasy_svg.TAGS[tag] = handler
    weasy_svg.text = handler
    _installed = True
    return True
