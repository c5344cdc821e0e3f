"""Marshmallow schemas for the catalog API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, missing, validate

from registry.catalog import vocabulary as v

# Values of these exact types come out of these exact field classes unchanged, so the dump can
# skip the field's machinery for them (String._serialize is str(value), Integer's int(value),
# Boolean's True/False). Every built-in field class below also dumps None as None.
_UNCHANGED_TYPES: dict[type, tuple[type, ...]] = {
    fields.String: (str,),
    fields.Integer: (int,),
    fields.Boolean: (bool,),
}
_NONE_AS_NONE = (
    fields.String,
    fields.Integer,
    fields.Boolean,
    fields.DateTime,
    fields.Date,
    fields.List,
    fields.Nested,
)


class FastDumpSchema(ma.Schema):
    """A Schema that dumps exactly what marshmallow would, with less work per value.

    marshmallow fetches every value through Field.serialize, Field.get_value,
    Schema.get_attribute and utils.get_value before the field formats it; for ~40 fields x 50
    pilots that was the largest part of a list request. Here each field's key, attribute and
    shortcut are worked out once per schema instance: a value is read the way utils.get_value
    reads it (``obj[key]`` for mappings, else ``getattr``), values the field would return
    unchanged (see _UNCHANGED_TYPES) and None are copied, and everything else goes to the
    field's own ``_serialize``. Fields that compute their value (Method, Function, Constant),
    dotted attributes, other field classes and absent values take marshmallow's own path, so
    defaults and omissions behave as before.
    """

    def _serialize(self, obj, *, many: bool = False):
        if type(self).get_attribute is not ma.Schema.get_attribute:
            return super()._serialize(obj, many=many)
        if many and obj is not None:
            return [self._serialize(item) for item in obj]
        plan = self.__dict__.get("_dump_plan")
        if plan is None:
            plan = self._dump_plan = self._make_dump_plan()
        is_mapping = hasattr(obj, "__getitem__")
        result = self.dict_class()
        for key, attr_name, source, field, unchanged, inner_unchanged in plan:
            if source is None:
                value = field.serialize(attr_name, obj, accessor=self.get_attribute)
            else:
                if is_mapping:
                    try:
                        value = obj[source]
                    except (KeyError, IndexError, TypeError, AttributeError):
                        value = getattr(obj, source, missing)
                else:
                    value = getattr(obj, source, missing)
                if value is missing:
                    value = field.serialize(attr_name, obj, accessor=self.get_attribute)
                elif value is not None and type(value) not in unchanged:
                    if inner_unchanged and type(value) is list:
                        inner = field.inner
                        value = [
                            each
                            if each is None or type(each) in inner_unchanged
                            else inner._serialize(each, attr_name, obj)
                            for each in value
                        ]
                    else:
                        value = field._serialize(value, attr_name, obj)
            if value is not missing:
                result[key] = value
        return result

    def _make_dump_plan(self) -> list[tuple]:
        plan = []
        for attr_name, field in self.dump_fields.items():
            key = field.data_key if field.data_key is not None else attr_name
            source = field.attribute if field.attribute is not None else attr_name
            shortcut = type(field) in _NONE_AS_NONE and "." not in source
            unchanged = _unchanged_types(field)
            # A list of plain strings or integers: the same shortcut for each element.
            inner = _unchanged_types(field.inner) if type(field) is fields.List else ()
            plan.append((key, attr_name, source if shortcut else None, field, unchanged, inner))
        return plan


def _unchanged_types(field: fields.Field) -> tuple[type, ...]:
    if type(field) is fields.Integer and field.as_string:
        return ()
    return _UNCHANGED_TYPES.get(type(field), ())


def _choice(choices, **kwargs):
    return fields.String(validate=validate.OneOf(choices), allow_none=True, **kwargs)


def _text(max_length: int, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), allow_none=True, **kwargs)


class PilotInputSchema(ma.Schema):
    """The fields a pilot is created with; PATCH takes any subset."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    agency = fields.String(required=True, validate=validate.Length(min=1, max=100))
    owner_email = fields.Email(required=True, validate=validate.Length(max=254))
    stage = fields.String(required=True, validate=validate.OneOf(v.STAGES))
    use_case_id = _text(64)
    agency_name = _text(200)
    agency_bureau = _text(300)
    topic_area = _choice(v.TOPIC_AREAS)
    classification = _choice(v.CLASSIFICATIONS)
    benefits = _text(10_000)
    system_outputs = _text(10_000)
    contracting_usage = _choice(v.CONTRACTING_USAGE)
    vendor_name = _text(300)
    operational_date = _text(40)
    have_ato = _choice(v.YES_NO)
    system_name_ato = _text(300)
    data_description = _text(10_000)
    link_to_data = _text(2_000)
    has_pii = _choice(v.YES_NO)
    pia_url = _text(2_000)
    demographic_features = fields.List(
        fields.String(validate=validate.OneOf(v.DEMOGRAPHIC_FEATURES)), allow_none=True
    )
    has_custom_code = _choice(v.YES_NO)
    code_url = _text(2_000)
    is_withheld = _choice(v.IS_WITHHELD)
    is_high_impact = _choice(v.IS_HIGH_IMPACT)
    HI_justification = _text(10_000, attribute="hi_justification")
    hi_potential_impacts = _text(10_000)
    data_source_ids = fields.List(fields.Integer(strict=True), allow_none=True)
    team_member_emails = fields.List(fields.Email(), allow_none=True)
    retired_reason = _text(5_000)


class DataSourceBriefSchema(FastDumpSchema):
    id = fields.Integer()
    name = fields.String()
    sensitivity_flags = fields.List(fields.String())


class PilotSchema(FastDumpSchema):
    """A pilot as the API returns it."""

    id = fields.Integer()
    use_case_id = fields.String(allow_none=True)
    name = fields.String()
    purpose = fields.String()
    agency = fields.String()
    agency_name = fields.String(allow_none=True)
    agency_bureau = fields.String(allow_none=True)
    owner_email = fields.String()
    team_member_emails = fields.List(fields.String())
    owner_to_confirm = fields.Boolean()
    stage = fields.String()
    development_stage = fields.String()
    review_status = fields.String()
    risk_tier = fields.String(allow_none=True)
    risk_tier_source = fields.String(allow_none=True)
    risk_tier_justification = fields.String(allow_none=True)
    next_review_at = fields.Date(allow_none=True)
    retired_reason = fields.String(allow_none=True)
    topic_area = fields.String(allow_none=True)
    classification = fields.String(allow_none=True)
    benefits = fields.String(allow_none=True)
    system_outputs = fields.String(allow_none=True)
    contracting_usage = fields.String(allow_none=True)
    vendor_name = fields.String(allow_none=True)
    operational_date = fields.String(allow_none=True)
    have_ato = fields.String(allow_none=True)
    system_name_ato = fields.String(allow_none=True)
    data_description = fields.String(allow_none=True)
    link_to_data = fields.String(allow_none=True)
    has_pii = fields.String(allow_none=True)
    pia_url = fields.String(allow_none=True)
    demographic_features = fields.List(fields.String())
    has_custom_code = fields.String(allow_none=True)
    code_url = fields.String(allow_none=True)
    is_withheld = fields.String(allow_none=True)
    is_high_impact = fields.String(allow_none=True)
    HI_justification = fields.String(attribute="hi_justification", allow_none=True)
    hi_potential_impacts = fields.String(allow_none=True)
    data_source_ids = fields.List(fields.Integer())
    data_sources = fields.List(fields.Nested(DataSourceBriefSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class PilotQuerySchema(ma.Schema):
    """Filters for the pilot list."""

    class Meta:
        unknown = ma.EXCLUDE

    q = fields.String(
        validate=validate.Length(max=200), metadata={"description": "Search name and purpose"}
    )
    stage = fields.String(validate=validate.OneOf(v.STAGES))
    risk_tier = fields.String(validate=validate.OneOf(v.RISK_TIERS))
    review_status = fields.String(validate=validate.OneOf(v.REVIEW_STATUSES))
    agency = fields.String(validate=validate.Length(max=100))
    owner_email = fields.String(validate=validate.Length(max=254))
    is_high_impact = fields.String(validate=validate.OneOf(v.IS_HIGH_IMPACT))
    topic_area = fields.String(validate=validate.Length(max=100))
    member_email = fields.String(
        validate=validate.Length(max=254),
        metadata={"description": "Pilots this user owns or is a team member of"},
    )


class DataSourceInputSchema(ma.Schema):
    """The fields a data source is registered with; PATCH takes any subset."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = _text(10_000)
    system_of_record = _text(200)
    provenance_url = fields.Url(allow_none=True, validate=validate.Length(max=500))
    retention = _text(200)
    contains_pii = fields.Boolean()
    contains_phi = fields.Boolean()
    contains_criminal_justice = fields.Boolean()
    contains_federal_tax = fields.Boolean()
    contains_demographics = fields.Boolean()


class DataSourceSchema(ma.Schema):
    """A data source as the API returns it."""

    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    system_of_record = fields.String(allow_none=True)
    provenance_url = fields.String(allow_none=True)
    retention = fields.String(allow_none=True)
    contains_pii = fields.Boolean()
    contains_phi = fields.Boolean()
    contains_criminal_justice = fields.Boolean()
    contains_federal_tax = fields.Boolean()
    contains_demographics = fields.Boolean()
    sensitivity_flags = fields.List(fields.String())
    pilot_ids = fields.Method("_pilot_ids")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()

    def _pilot_ids(self, source) -> list[int]:
        return sorted(pilot.id for pilot in source.pilots)


class DataSourceQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    q = fields.String(validate=validate.Length(max=200))
    sensitive = fields.Boolean(metadata={"description": "Only sources with a sensitivity flag"})


class PilotUpdateSchema(PilotInputSchema):
    """PATCH body for a pilot: any subset of the create fields."""


class DataSourceUpdateSchema(DataSourceInputSchema):
    """PATCH body for a data source: any subset of the create fields."""
