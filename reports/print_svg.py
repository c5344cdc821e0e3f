"""Lean print copies of the registry's matplotlib SVG charts, for WeasyPrint.

The charts stored with a bias check (``assessments.charts``) and the portfolio charts
(``reports.charts``) are matplotlib SVGs made for browsers: every tick, gridline, whisker
and marker is its own group, markers are ``<use>`` clones of ``<defs>`` paths, most
shapes carry a clip path, and there is RDF metadata. WeasyPrint parses, cascades and
draws every one of those nodes in Python, and an inline SVG in the report HTML is also
parsed by the HTML parser and styled by the document's CSS, node by node.

:func:`print_svg` rewrites such an SVG into one that paints the same picture with far
fewer nodes:

* groups are flattened (their transforms applied to the coordinates, their inherited
  styles copied onto their children);
* each ``<use>`` of a ``<defs>`` path becomes that path, moved to its place;
* a clip path is dropped where the shape lies inside the clip rectangle; a shape that
  reaches outside keeps it;
* paths with the same style are merged into one ``<path>`` when nothing painted between
  them overlaps the later one (text counts with a generous box), so the painting order
  where it matters -- and so the picture -- is unchanged; dashed or translucent paths
  are never merged;
* coordinates are rounded to 0.01 user unit (0.01 pt in matplotlib's SVGs);
* matplotlib's one style rule (``* {stroke-linejoin: round; stroke-linecap: butt}``)
  is folded into each element's ``style``, after what the element inherits from its
  groups and before its own declarations, as the cascade would have it;
* ``<text>`` stays text (vector glyphs in the PDF, extractable), with its style and a
  transform only where one is not the identity; while :mod:`reports.svg_text`'s handler
  is installed, ``text-anchor: middle|end`` moves to its ``data-text-anchor`` attribute,
  which that handler honours without a form XObject per label.

The root keeps its size, ``viewBox``, ``role="img"`` and ``aria-labelledby`` (ids are
unchanged). Its ``<title>`` becomes the title *and* the description: WeasyPrint gives a
PDF/UA figure made from an inline SVG the ``<title>`` text as its ``/Alt`` text, and the
description is what a reader of the PDF who can't see the chart needs. Browsers should
get the original SVG, with its own ``<title>`` and ``<desc>``; this copy is for print.

Anything the rewriter does not understand (other elements or attributes, relative path
commands, skew transforms, group opacity, clip paths that are not one rectangle, CSS
rules other than ``* {...}``, malformed XML) makes :func:`print_svg` return the input
unchanged: slower to print, never wrong. The result is a pure function of the input and is memoised in a bounded LRU
keyed by the input's sha256, so a chart is rewritten once per process however often it
is printed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from xml.sax.saxutils import escape, quoteattr

from reports import svg_text

__all__ = ["print_svg", "clear_cache"]

LOGGER = logging.getLogger(__name__)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_S = f"{{{SVG_NS}}}"

#: How many rewritten charts to keep (a 3-check report has 12; a rewritten chart is
#: about half the size of its input, 6-15 kB).
CACHE_SIZE = 256

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
BBox = tuple[float, float, float, float]
EVERYWHERE: BBox = (-math.inf, -math.inf, math.inf, math.inf)


class Unsupported(ValueError):
    """The SVG uses something the rewriter does not handle; the original is used."""


# ---- the cache ------------------------------------------------------------------------------

_cache: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every rewritten chart (tests; or after changing the fonts)."""
    with _lock:
        _cache.clear()


def print_svg(svg: str) -> str:
    """The lean print copy of ``svg`` (see the module documentation), memoised.

    Returns ``svg`` itself when it can't be rewritten faithfully.
    """
    key = hashlib.sha256(svg.encode("utf-8", "surrogatepass")).hexdigest()
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    try:
        lean = _rewrite(svg)
    except (Unsupported, ET.ParseError, ValueError, KeyError, IndexError) as exc:
        LOGGER.debug("print_svg: kept the original SVG (%s)", exc)
        lean = svg
    with _lock:
        _cache[key] = lean
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return lean


# ---- numbers, transforms, styles ----------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATH_TOKEN = re.compile(rf"([A-Za-z])|({_NUMBER})")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")
_URL = re.compile(r"url\(\s*#([^)\s]+)\s*\)")


def _fmt(value: float) -> str:
    text = f"{value:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt6(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m @ n: apply n first, then m."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def _parse_transform(text: str | None) -> Matrix:
    matrix = IDENTITY
    if not text or not text.strip():
        return matrix
    end = 0
    for match in _TRANSFORM.finditer(text):
        if text[end:match.start()].strip(" ,\t\n"):
            raise Unsupported(f"transform {text!r}")
        end = match.end()
        name = match.group(1)
        args = [float(v) for v in re.findall(_NUMBER, match.group(2))]
        if name == "matrix" and len(args) == 6:
            step = tuple(args)
        elif name == "translate" and len(args) in (1, 2):
            step = (1.0, 0.0, 0.0, 1.0, args[0], args[1] if len(args) == 2 else 0.0)
        elif name == "scale" and len(args) in (1, 2):
            step = (args[0], 0.0, 0.0, args[1] if len(args) == 2 else args[0], 0.0, 0.0)
        elif name == "rotate" and len(args) in (1, 3):
            angle = math.radians(args[0])
            cos, sin = math.cos(angle), math.sin(angle)
            step = (cos, sin, -sin, cos, 0.0, 0.0)
            if len(args) == 3:
                cx, cy = args[1], args[2]
                step = _multiply(_multiply((1.0, 0.0, 0.0, 1.0, cx, cy), step), (1.0, 0.0, 0.0, 1.0, -cx, -cy))
        else:
            raise Unsupported(f"transform {name}")
        matrix = _multiply(matrix, step)
    if text[end:].strip(" ,\t\n"):
        raise Unsupported(f"transform {text!r}")
    return matrix


def _parse_style(text: str | None) -> dict[str, str]:
    style: dict[str, str] = {}
    for declaration in (text or "").split(";"):
        if ":" in declaration:
            name, _, value = declaration.partition(":")
            style[name.strip()] = value.strip()
    return style


def _style_text(style: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in style.items())


Segments = list[tuple[str, tuple[tuple[float, float], ...]]]
_ARITY = {"M": 1, "L": 1, "Q": 2, "C": 3, "Z": 0, "z": 0}


def _parse_path(d: str) -> Segments:
    """Path data with absolute M/L/Q/C/Z commands only (what matplotlib writes)."""
    segments: Segments = []
    command = None
    numbers: list[float] = []

    def flush() -> None:
        if command is None:
            if numbers:
                raise Unsupported("path data before a command")
            return
        count = _ARITY[command] * 2
        if count == 0:
            if numbers:
                raise Unsupported("numbers after Z")
            segments.append(("Z", ()))
            return
        if not numbers or len(numbers) % count:
            raise Unsupported("path arguments")
        name = command
        for start in range(0, len(numbers), count):
            chunk = numbers[start:start + count]
            segments.append((name, tuple(zip(chunk[0::2], chunk[1::2], strict=True))))
            if name == "M":
                name = "L"  # implicit lineto after the first pair
        numbers.clear()

    for letter, number in _PATH_TOKEN.findall(d):
        if letter:
            flush()
            if letter not in _ARITY:
                raise Unsupported(f"path command {letter}")
            command = letter
        else:
            numbers.append(float(number))
    flush()
    return segments


def _draw(segments: Segments, m: Matrix, out: list[str]) -> BBox | None:
    """Append ``segments`` mapped through ``m`` to ``out``; return their bounding box."""
    a, b, c, d, e, f = m
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for command, points in segments:
        out.append(command)
        for x, y in points:
            px, py = a * x + c * y + e, b * x + d * y + f
            out.append(_fmt(px))
            out.append(_fmt(py))
            if px < x0:
                x0 = px
            if px > x1:
                x1 = px
            if py < y0:
                y0 = py
            if py > y1:
                y1 = py
    return None if x0 == math.inf else (x0, y0, x1, y1)


def _overlaps(p: BBox, q: BBox) -> bool:
    return p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3]


def _union(p: BBox, q: BBox) -> BBox:
    return (min(p[0], q[0]), min(p[1], q[1]), max(p[2], q[2]), max(p[3], q[3]))


# ---- text -----------------------------------------------------------------------------------

_FONT_SIZE = re.compile(rf"^({_NUMBER})(px)?$")


def _text_bbox(element: ET.Element, style: dict[str, str], m: Matrix) -> BBox:
    """A box sure to hold the text's glyphs (em-wide characters, generous ascent and descent).

    Only used to decide whether merging two paths could change what is painted over it, so
    it may be too big, never too small; unknown sizes or anchors give the whole plane.
    """
    size = _FONT_SIZE.match(style.get("font-size", "").strip())
    anchor = style.get("text-anchor", "start")
    if size is None or anchor not in ("start", "middle", "end"):
        return EVERYWHERE
    try:
        x = float(element.get("x", "0"))
        y = float(element.get("y", "0"))
    except ValueError:
        return EVERYWHERE
    em = float(size.group(1))
    width = 1.2 * em * len(element.text or "")
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    corners = ((left, y - 1.2 * em), (left + width, y + 0.5 * em))
    a, b, c, d, e, f = m
    xs = [a * px + c * py + e for px in (corners[0][0], corners[1][0]) for py in (corners[0][1], corners[1][1])]
    ys = [b * px + d * py + f for px in (corners[0][0], corners[1][0]) for py in (corners[0][1], corners[1][1])]
    return (min(xs), min(ys), max(xs), max(ys))


# ---- the rewrite ------------------------------------------------------------------------------


class _Item:
    __slots__ = ("kind", "key", "style", "parts", "bbox", "attrib", "text", "mergeable")

    def __init__(self, kind: str, key: str, style: str, parts: list[str], bbox: BBox,
                 attrib: dict[str, str] | None = None, text: str = "", mergeable: bool = True) -> None:
        self.kind, self.key, self.style, self.parts, self.bbox = kind, key, style, parts, bbox
        self.attrib, self.text, self.mergeable = attrib or {}, text, mergeable


_UNIVERSAL_RULE = re.compile(r"\s*\*\s*\{([^{}]*)\}\s*")


def _universal_rule(css: str) -> dict[str, str] | None:
    """The declarations of a style sheet made only of ``* {...}`` rules (else None)."""
    declarations: dict[str, str] = {}
    end = 0
    for match in _UNIVERSAL_RULE.finditer(css):
        if match.start() != end:
            return None
        declarations.update(_parse_style(match.group(1)))
        end = match.end()
    if end != len(css) or any("!" in v for v in declarations.values()):
        return None
    return declarations


def _style_attribute(style: dict[str, str]) -> str:
    return f" style={quoteattr(_style_text(style))}" if style else ""


def _clip_rect(clip: ET.Element) -> BBox | None:
    shapes = list(clip)
    if len(shapes) != 1 or shapes[0].tag != f"{_S}rect" or shapes[0].get("transform"):
        return None
    r = shapes[0]
    x, y = float(r.get("x", "0")), float(r.get("y", "0"))
    return (x, y, x + float(r.get("width", "0")), y + float(r.get("height", "0")))


def _rewrite(svg: str) -> str:
    root = ET.fromstring(svg)
    if root.tag != f"{_S}svg":
        raise Unsupported("not an SVG document")
    definitions: dict[str, ET.Element] = {}
    for element in root.iter():
        if element.get("id"):
            definitions[element.get("id")] = element

    items: list[_Item] = []
    kept_clips: dict[str, ET.Element] = {}
    css = "".join(style.text or "" for style in root.iter(f"{_S}style"))
    # matplotlib's only rule, "*{stroke-linejoin: round; stroke-linecap: butt}", is folded
    # into every element, which then needs no style sheet.
    universal = _universal_rule(css)
    if universal is None:
        # A rule for some elements beats what they inherit from their group, so copying
        # group styles down would be wrong.
        raise Unsupported("a style sheet with rules other than * {...}")
    title = desc = None

    def add(item: _Item) -> None:
        if item.mergeable:
            for i in range(len(items) - 1, -1, -1):
                other = items[i]
                if other.mergeable and other.key == item.key:
                    other.parts.extend(item.parts)
                    other.bbox = _union(other.bbox, item.bbox)
                    return
                if _overlaps(other.bbox, item.bbox):
                    break
        items.append(item)

    def clip_for(clip_id: str | None, bbox: BBox) -> tuple[str | None, BBox]:
        """Keep the clip path only if the shape reaches outside it."""
        if clip_id is None:
            return None, bbox
        clip = definitions.get(clip_id)
        if clip is None or clip.tag != f"{_S}clipPath":
            raise Unsupported(f"clip {clip_id}")
        rect = _clip_rect(clip)
        if rect is None:
            raise Unsupported("clip path that is not one rectangle")
        eps = 0.01
        if rect[0] - eps <= bbox[0] and rect[1] - eps <= bbox[1] and bbox[2] <= rect[2] + eps and bbox[3] <= rect[3] + eps:
            return None, bbox
        kept_clips[clip_id] = clip
        return clip_id, (max(bbox[0], rect[0]), max(bbox[1], rect[1]), min(bbox[2], rect[2]), min(bbox[3], rect[3]))

    def shape(d: str, style: dict[str, str], m: Matrix, clip_id: str | None) -> None:
        parts: list[str] = []
        bbox = _draw(_parse_path(d), m, parts)
        if bbox is None:
            return
        path = " ".join(parts)
        clip_id, bbox = clip_for(clip_id, bbox)
        text = _style_attribute(style)
        if clip_id is not None:
            add(_Item("path", "", text, [path], bbox, {"clip-path": f"url(#{clip_id})"}, mergeable=False))
        elif "opacity" in style or "fill-opacity" in style or "stroke-opacity" in style or "stroke-dasharray" in style:
            add(_Item("path", "", text, [path], bbox, mergeable=False))
        else:
            add(_Item("path", text, text, [path], bbox))

    def walk(element: ET.Element, m: Matrix, inherited: dict[str, str], clip_id: str | None) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments, processing instructions
            if not tag.startswith(_S):
                if element is root and tag.endswith("}metadata"):
                    continue
                raise Unsupported(f"element {tag}")
            name = tag[len(_S):]
            if name in ("metadata", "clipPath"):
                continue
            if name == "title" or name == "desc":
                if element is not root:
                    continue
                nonlocal title, desc
                if name == "title":
                    title = child
                else:
                    desc = child
                continue
            if name in ("defs", "style"):
                continue  # <style> was read above; what <use> and clip-path refer to is looked up by id
            extra = set(child.attrib) - {"id", "style", "transform", "clip-path", "d", "x", "y", XLINK_HREF, "href"}
            if extra:
                raise Unsupported(f"attributes {sorted(extra)} on {name}")
            style = {**inherited, **universal, **_parse_style(child.get("style"))}
            here = _multiply(m, _parse_transform(child.get("transform")))
            clip = _URL.search(child.get("clip-path", ""))
            if clip and here != IDENTITY:
                raise Unsupported("clip path under a transform")  # clip rects are compared in root units
            here_clip = clip.group(1) if clip else clip_id
            if name == "g":
                if any(k in style for k in ("opacity", "filter", "mask")) or style.get("display") == "none":
                    raise Unsupported("group opacity, filter, mask or display: none")  # not inherited
                walk(child, here, style, here_clip)
            elif name == "path":
                shape(child.get("d", ""), style, here, here_clip)
            elif name == "use":
                ref = (child.get(XLINK_HREF) or child.get("href") or "").lstrip("#")
                target = definitions.get(ref)
                if target is None or target.tag != f"{_S}path":
                    raise Unsupported(f"use of {ref!r}")
                offset = (1.0, 0.0, 0.0, 1.0, float(child.get("x", "0")), float(child.get("y", "0")))
                used = _multiply(_multiply(here, offset), _parse_transform(target.get("transform")))
                shape(target.get("d", ""), {**style, **_parse_style(target.get("style"))}, used, here_clip)
            elif name == "text":
                if len(child):
                    raise Unsupported("text with child elements")
                attrib = {k: _fmt(float(v)) for k, v in child.attrib.items() if k in ("x", "y")}
                bbox = _text_bbox(child, style, here)
                anchor = style.get("text-anchor", "start")
                if anchor in ("middle", "end") and svg_text.active() and "text-anchor" not in child.attrib:
                    style = {k: v for k, v in style.items() if k != "text-anchor"}
                    attrib[svg_text.ANCHOR_ATTRIBUTE] = anchor
                paint = _style_attribute(style)
                if here != IDENTITY:
                    attrib["transform"] = "matrix(" + " ".join(_fmt6(v) for v in here) + ")"
                if here_clip is not None:
                    attrib["clip-path"] = f"url(#{here_clip})"
                    clip_for(here_clip, EVERYWHERE)
                add(_Item("text", "", paint, [], bbox, attrib, child.text or "", mergeable=False))
            else:
                raise Unsupported(f"element {name}")

    walk(root, IDENTITY, {}, None)

    out = ["<svg", f' xmlns="{SVG_NS}"']
    for name, value in root.attrib.items():
        if name.startswith("{") or name in ("xmlns", "version"):
            continue
        out.append(f" {name}={quoteattr(value)}")
    out.append(">")
    if title is not None:
        label = (title.text or "").strip()
        if desc is not None and (desc.text or "").strip():
            label = f"{label}. {desc.text.strip()}" if label else desc.text.strip()
        out.append(f'<title{_id_attr(title)}>{escape(label)}</title>')
    if desc is not None:
        out.append(f'<desc{_id_attr(desc)}>{escape(desc.text or "")}</desc>')
    if kept_clips:
        out.append("<defs>")
        for clip_id, clip in kept_clips.items():
            rect = clip[0]
            attrs = "".join(f" {k}={quoteattr(rect.get(k))}" for k in ("x", "y", "width", "height") if rect.get(k))
            out.append(f"<clipPath id={quoteattr(clip_id)}><rect{attrs}/></clipPath>")
        out.append("</defs>")
    for item in items:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in item.attrib.items())
        if item.kind == "path":
            out.append(f'<path d="{" ".join(item.parts)}"{item.style}{attrs}/>')
        else:
            out.append(f"<text{attrs}{item.style}>{escape(item.text)}</text>")
    out.append("</svg>")
    return "".join(out)


def _id_attr(element: ET.Element) -> str:
    return f" id={quoteattr(element.get('id'))}" if element.get("id") else ""

