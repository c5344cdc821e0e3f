"""The catalog's JSON API: pilots and data sources."""

from __future__ import annotations

from functools import cache

from flask.views import MethodView

from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth import need_to_know
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize
from registry.catalog import lifecycle, service
from registry.catalog.schemas import (
    DataSourceInputSchema,
    DataSourceQuerySchema,
    DataSourceSchema,
    DataSourceUpdateSchema,
    PilotInputSchema,
    PilotQuerySchema,
    PilotSchema,
    PilotUpdateSchema,
    RevisionSchema,
)
from registry.request_limits import authorize_before_body

blp = Blueprint("pilots_api", __name__, url_prefix="/api/v1", description="AI pilots (use cases)")


@cache
def _check_pilot_rows_cover_schema() -> None:
    """Fail loudly if PilotSchema dumps something that page_of_pilot_rows does not give.

    The list dumps those dicts where the detail dumps Pilot objects; a field missing from the
    dicts would otherwise silently drop out of the list alone.
    """
    wanted = {field.attribute or name for name, field in PilotSchema().dump_fields.items()}
    if missing := sorted(wanted - service.pilot_row_keys()):
        raise RuntimeError(
            f"PilotSchema dumps {', '.join(missing)}, which page_of_pilot_rows does not give; "
            "add them there (a column is included by itself; a property is not)."
        )


def _etag_data(record) -> dict:
    # The version column moves on every write, so it identifies a representation cheaply.
    return {"id": record.id, "version": record.version}


@blp.route("/pilots")
class Pilots(MethodView):
    # An instance, not the class: webargs would build (and deep-copy) a schema per request.
    @blp.arguments(PilotQuerySchema(), location="query")
    @blp.response(200, PilotSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List pilots, filtered and searched."""
        user = api_user()
        authorize(user, "pilot.read")
        _check_pilot_rows_cover_schema()
        filters = {**filters, "visible_to": need_to_know.readable_pilot_ids_filter(user)}
        items, total = service.page_of_pilot_rows(
            filters, page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return items

    @authorize_before_body("pilot.create")
    @blp.arguments(PilotInputSchema)
    @blp.response(201, PilotSchema)
    @blp.alt_response(422, description="A field is invalid; `errors` names it.")
    def post(self, data):
        """Register a pilot; the caller joins its team."""
        pilot = service.create_pilot(data, api_user())
        blp.set_etag(_etag_data(pilot))
        return pilot


@blp.route("/pilots/<int:pilot_id>")
class PilotById(MethodView):
    @blp.etag
    @blp.response(200, PilotSchema)
    def get(self, pilot_id):
        """Read one pilot."""
        authorize(api_user(), "pilot.read")
        pilot = service.get_pilot(pilot_id)
        blp.set_etag(_etag_data(pilot))
        return pilot

    @authorize_before_body("pilot.update", pilot_arg="pilot_id")
    @blp.etag
    @blp.arguments(PilotUpdateSchema(partial=True))
    @blp.response(200, PilotSchema)
    @blp.alt_response(
        409,
        description="A move to a stage beyond the approved one, or an owner or team change "
        "while the pilot is under review; `errors` says which.",
    )
    def patch(self, data, pilot_id):
        """Change some of a pilot's fields; send the ETag of your last GET as If-Match.

        After an approval, a change to a material field keeps the approved revision in force
        and lists the field in `unreviewed_changes` until a CAIO decides on it."""
        user = api_user()
        pilot = service.get_pilot(pilot_id)
        authorize(user, "pilot.update", pilot)
        blp.check_etag(_etag_data(pilot))
        pilot = service.update_pilot(pilot, data, user)
        blp.set_etag(_etag_data(pilot))
        return pilot

    @blp.response(204)
    @blp.alt_response(409, description="Only draft pilots can be deleted.")
    def delete(self, pilot_id):
        """Delete a draft pilot."""
        service.delete_pilot(service.get_pilot(pilot_id), api_user())


@blp.route("/pilots/<int:pilot_id>/revisions")
class PilotRevisions(MethodView):
    @blp.response(200, RevisionSchema(many=True))
    def get(self, pilot_id):
        """The pilot's frozen revisions, newest first."""
        authorize(api_user(), "pilot.read")
        return lifecycle.revisions_for(service.get_pilot(pilot_id))


@blp.route("/pilots/<int:pilot_id>/revisions/<int:number>")
class PilotRevisionByNumber(MethodView):
    @blp.response(200, RevisionSchema)
    def get(self, pilot_id, number):
        """One frozen revision."""
        authorize(api_user(), "pilot.read")
        return lifecycle.get_revision(service.get_pilot(pilot_id), number)


@blp.route("/data-sources")
class DataSources(MethodView):
    @blp.arguments(DataSourceQuerySchema, location="query")
    @blp.response(200, DataSourceSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List data sources."""
        authorize(api_user(), "data_source.read")
        items, total = service.page_of_data_sources(
            filters, page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return items

    @authorize_before_body("data_source.create")
    @blp.arguments(DataSourceInputSchema)
    @blp.response(201, DataSourceSchema)
    def post(self, data):
        """Register a data source."""
        source = service.create_data_source(data, api_user())
        blp.set_etag(_etag_data(source))
        return source


@blp.route("/data-sources/<int:source_id>")
class DataSourceById(MethodView):
    @blp.etag
    @blp.response(200, DataSourceSchema)
    def get(self, source_id):
        """Read one data source."""
        authorize(api_user(), "data_source.read")
        source = service.get_data_source(source_id)
        blp.set_etag(_etag_data(source))
        return source

    @blp.etag
    @blp.arguments(DataSourceUpdateSchema(partial=True))
    @blp.response(200, DataSourceSchema)
    def patch(self, data, source_id):
        """Change a data source; send the ETag of your last GET as If-Match."""
        user = api_user()
        source = service.get_data_source(source_id)
        authorize(user, "data_source.update", source)
        blp.check_etag(_etag_data(source))
        source = service.update_data_source(source, data, user)
        blp.set_etag(_etag_data(source))
        return source
