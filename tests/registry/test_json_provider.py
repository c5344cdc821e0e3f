"""The orjson-backed JSON provider means what Flask's default provider means."""

import dataclasses
import decimal
import json
import uuid
from datetime import UTC, date, datetime

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

from registry.json_provider import OrjsonProvider


@dataclasses.dataclass
class Point:
    x: int
    y: int


VALUES = [
    {"b": 1, "a": [1, 2.5, None, True], "ü": "naïve – “quoted”"},
    {2: "int key", 1: "another int key"},
    datetime(2026, 11, 23, 4, 5, 6, tzinfo=UTC),
    date(2026, 11, 23),
    decimal.Decimal("1.10"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Point(1, 2),
    Markup("<b>bold</b>"),
    2**70,  # wider than orjson takes: the standard encoder answers
    [],
    "",
]


def _providers():
    app = Flask(__name__)
    return app, OrjsonProvider(app), DefaultJSONProvider(app)


def test_dumps_means_the_same_as_flask():
    _, ours, flasks = _providers()
    for value in VALUES:
        assert json.loads(ours.dumps(value)) == json.loads(flasks.dumps(value)), value


def test_keys_are_sorted_and_text_is_utf8():
    _, ours, _ = _providers()
    assert ours.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert ours.dumps("é") == '"é"'


def test_response_matches_flask_and_ends_with_a_newline():
    app, ours, flasks = _providers()
    with app.app_context():
        for value in VALUES:
            mine, theirs = ours.response(value), flasks.response(value)
            assert mine.mimetype == theirs.mimetype == "application/json"
            assert mine.get_data().endswith(b"\n")
            assert json.loads(mine.get_data()) == json.loads(theirs.get_data()), value


def test_debug_mode_keeps_the_indented_output():
    app, ours, flasks = _providers()
    app.debug = True
    with app.app_context():
        assert ours.response({"a": [1]}).get_data() == flasks.response({"a": [1]}).get_data()


def test_unserialisable_values_still_raise_type_error():
    _, ours, _ = _providers()
    try:
        ours.dumps({"a": object()})
    except TypeError:
        pass
    else:
        raise AssertionError("an object() was serialised")


def test_the_app_uses_it(app):
    assert isinstance(app.json, OrjsonProvider)
