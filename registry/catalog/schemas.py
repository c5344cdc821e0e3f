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


def _text(max_length: int, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), allow_none=True, **kwargs)


# At most this many team members or data sources on one pilot.
MAX_LIST = 100


def _input_field(spec: v.PilotField) -> fields.Field:
    """The marshmallow field that loads one pilot field, from its one definition."""
    extra: dict = {}
    if spec.api:
        extra["attribute"] = spec.name
    if spec.hint:
        extra["metadata"] = {"description": spec.hint}
    length = validate.Length(min=1 if spec.required else 0, max=spec.max_length)
    if spec.kind == "email":
        return fields.Email(required=spec.required, validate=validate.Length(max=254), **extra)
    if spec.kind == "emails":
        return fields.List(
            fields.Email(validate=validate.Length(max=254)),
            allow_none=True,
            validate=validate.Length(max=MAX_LIST),
            **extra,
        )
    if spec.kind == "ids":
        return fields.List(
            fields.Integer(strict=True),
            allow_none=True,
            validate=validate.Length(max=MAX_LIST),
            **extra,
        )
    if spec.kind == "list":
        return fields.List(
            fields.String(validate=validate.OneOf(spec.choices)),
            allow_none=True,
            validate=validate.Length(max=len(spec.choices)),
            **extra,
        )
    if spec.kind == "choice":
        return fields.String(
            required=spec.required,
            allow_none=not spec.required,
            validate=validate.OneOf(spec.choices),
            **extra,
        )
    return fields.String(
        required=spec.required, allow_none=not spec.required, validate=length, **extra
    )


def _output_field(spec: v.PilotField) -> fields.Field:
    extra = {"attribute": spec.name} if spec.api else {}
    if spec.kind in ("emails", "list"):
        return fields.List(fields.String(), **extra)
    if spec.kind == "ids":
        return fields.List(fields.Integer(), **extra)
    return fields.String(allow_none=not spec.required, **extra)


# The fields a pilot is created with; PATCH takes any subset.
PilotInputSchema = ma.Schema.from_dict(
    {
        spec.key: _input_field(spec) for spec in v.PILOT_FIELDS
    }
    | {
        "organization_id": fields.Integer(
            strict=True,
            allow_none=True,
            metadata={
                "description": "The agency, bureau or office it belongs to (default: yours)."
            },
        )
    },
    name="PilotInputSchema",
)


class DataSourceBriefSchema(FastDumpSchema):
    id = fields.Integer()
    name = fields.String()
    sensitivity_flags = fields.List(fields.String())


# A pilot as the API returns it: its fields, its state and what is derived from them.
PilotSchema = FastDumpSchema.from_dict(
    {
        "id": fields.Integer(),
        **{spec.key: _output_field(spec) for spec in v.PILOT_FIELDS},
        "organization_id": fields.Integer(),
        "owner_to_confirm": fields.Boolean(),
        "development_stage": fields.String(),
        "review_status": fields.String(),
        "risk_tier": fields.String(allow_none=True),
        "risk_tier_source": fields.String(allow_none=True),
        "risk_tier_justification": fields.String(allow_none=True),
        "next_review_at": fields.Date(allow_none=True),
        "review_due_since": fields.Date(allow_none=True),
        "review_due_reason": fields.String(allow_none=True),
        "approved_revision": fields.Integer(
            allow_none=True, metadata={"description": "The revision in force, or null."}
        ),
        "approved_stage": fields.String(
            allow_none=True,
            metadata={"description": "pilot | deployed | null: the furthest stage approved."},
        ),
        "unreviewed_changes": fields.List(
            fields.String(),
            metadata={"description": "Material fields changed since the approved revision."},
        ),
        "in_use_without_approval": fields.Boolean(
            metadata={"description": "The recorded stage is beyond what any approval covers."}
        ),
        "data_sources": fields.List(fields.Nested(DataSourceBriefSchema)),
        "withheld_fields": fields.List(
            fields.String(), metadata={"description": "Inventory fields withheld from the public."}
        ),
        "withheld_reasons": fields.Dict(keys=fields.String(), values=fields.String()),
        "publication_state": fields.String(
            metadata={"description": " | ".join(v.PublicationState.values())}
        ),
        "publication_status": fields.String(
            attribute="publication_state",
            dump_only=True,
            metadata={"description": "The same as publication_state."},
        ),
        "created_at": fields.DateTime(),
        "updated_at": fields.DateTime(),
        "version": fields.Integer(),
    },
    name="PilotSchema",
)


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


# PATCH body for a pilot: any subset of the create fields.
PilotUpdateSchema = ma.Schema.from_dict(
    {
        **{spec.key: _input_field(spec) for spec in v.PILOT_FIELDS},
        "withheld_fields": fields.List(
            fields.String(validate=validate.Length(min=1, max=60)),
            allow_none=True,
            validate=validate.Length(max=len(v.INVENTORY_COLUMNS)),
            metadata={
                "description": "Inventory fields withheld from the public one by one (OMB "
                "column names, or the API names of the fields that fill them); each is shown "
                "as “withheld”. Withholding reaches the public record at once."
            },
        ),
        "withheld_reasons": fields.Dict(
            keys=fields.String(validate=validate.Length(max=60)),
            values=fields.String(validate=validate.OneOf(v.WITHHOLDING_REASONS)),
            allow_none=True,
            metadata={
                "description": "The OMB reason per withheld field (default: disclosure risk)."
            },
        ),
    },
    name="PilotUpdateSchema",
)


class DataSourceUpdateSchema(DataSourceInputSchema):
    """PATCH body for a data source: any subset of the create fields."""


class RevisionSchema(ma.Schema):
    """A frozen revision of a pilot: what a submission froze and a decision binds."""

    revision = fields.Integer(attribute="number")
    frozen_at = fields.DateTime()
    frozen_by = fields.Function(lambda r: r.frozen_by.email if r.frozen_by else None)
    reason = fields.String()
    requested_stage = fields.String(allow_none=True)
    fields_ = fields.Dict(
        data_key="fields",
        attribute="fields",
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        metadata={
            "description": "The pilot's fields, data sources and tier, with the questionnaire "
            "answers, evidence hashes and bias check in force at submission."
        },
    )
