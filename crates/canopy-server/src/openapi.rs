//! The OpenAPI 3.0 document served at `/api`, generated from the same tables the
//! handlers use (`collections` for collections, properties and filters; the limits
//! of `collections` and `triage`), so the documentation cannot drift from the code.
//! The schemas of the `/stats` responses (and of the rows in them) are derived from
//! their Rust structs with `utoipa` ([`Derived`]); the tests below and
//! `tests/server_api.rs` fail on a route of the router or a field of a response that
//! the document does not declare.
//!
//! Each collection gets its own paths (`/collections/alerts/items`, …) with its own
//! filter parameters, declared `style: form, explode: false` as QGIS and GDAL expect.

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::collections::{self, CollectionDef, DEFAULT_LIMIT, MAX_LIMIT};
use crate::collections::{MAX_BODY, MAX_NOTE};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn errors(codes: &[u16]) -> Map<String, Value> {
    let mut m = Map::new();
    for c in codes {
        let what = match c {
            400 => "A malformed or unknown query parameter",
            401 => "Missing or unknown bearer token",
            404 => "No such collection, feature or commune",
            405 => "Method not allowed",
            412 => "If-Match is stale: the alert changed meanwhile",
            413 => "Request body too large",
            415 => "Body is not JSON",
            422 => "Body is not a valid triage change",
            428 => "If-Match missing",
            503 => "The store cannot be read",
            _ => "Server error",
        };
        m.insert(
            c.to_string(),
            json!({"description": what, "content": {"application/json": {"schema": reference("Exception")}}}),
        );
    }
    m
}

/// A 200 answered as JSON (`json_type`, with `schema`) or HTML.
fn ok(description: &str, json_type: &str, schema: Value, html: bool) -> Value {
    let mut content = Map::new();
    content.insert(json_type.to_string(), json!({ "schema": schema }));
    if html {
        content.insert("text/html".into(), json!({"schema": {"type": "string"}}));
    }
    json!({"description": description, "content": content})
}

fn op(
    id: &str,
    summary: &str,
    tags: &[&str],
    mut params: Vec<Value>,
    ok: Value,
    errs: &[u16],
) -> Value {
    // Every route takes `lang` (the language of HTML pages and messages, see `i18n`).
    params.push(param_ref("lang"));
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    responses.extend(errors(errs));
    json!({
        "operationId": id,
        "summary": summary,
        "tags": tags,
        "parameters": params,
        "responses": responses,
    })
}

fn param_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn filter_params(def: &CollectionDef) -> Vec<Value> {
    def.filters
        .iter()
        .map(|f| {
            let mut items = json!({"type": "string"});
            if !f.values.is_empty() {
                items["enum"] = json!(f.values);
            }
            json!({
                "name": f.param,
                "in": "query",
                "required": false,
                "description": format!("{}: comma-separated values; a feature matches any of them", f.description),
                "style": "form",
                "explode": false,
                "schema": {"type": "array", "items": items, "minItems": 1},
            })
        })
        .collect()
}

fn feature_schemas(def: &CollectionDef, schemas: &mut Map<String, Value>) {
    let name = capitalized(def.id);
    let mut props = Map::new();
    for p in def.props {
        props.insert(p.name.into(), p.schema(true));
    }
    schemas.insert(
        format!("{name}Properties"),
        json!({"type": "object", "properties": props, "additionalProperties": true}),
    );
    schemas.insert(
        format!("{name}Feature"),
        json!({
            "type": "object",
            "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "bbox": reference("Bbox"),
                "geometry": {"allOf": [reference("Geometry")], "nullable": true},
                "properties": reference(&format!("{name}Properties")),
                "links": {"type": "array", "items": reference("Link")},
            },
        }),
    );
    schemas.insert(
        format!("{name}FeatureCollection"),
        json!({
            "type": "object",
            "required": ["type", "features", "numberMatched", "numberReturned", "links"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "timeStamp": {"type": "string", "format": "date-time"},
                "bbox": reference("Bbox"),
                "features": {"type": "array", "items": reference(&format!("{name}Feature"))},
                "links": {"type": "array", "items": reference("Link")},
            },
        }),
    );
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn components() -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "Exception".into(),
        json!({
            "type": "object", "required": ["code", "description"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        }),
    );
    schemas.insert(
        "Links".into(),
        json!({"type": "array", "items": reference("Link")}),
    );
    schemas.insert(
        "Bbox".into(),
        json!({"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}),
    );
    schemas.insert("Geometry".into(), json!({
        "type": "object", "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"]},
            "coordinates": {"type": "array"},
        },
    }));
    schemas.insert("LandingPage".into(), json!({
        "type": "object", "required": ["links"],
        "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": reference("Links")},
    }));
    schemas.insert("ConfClasses".into(), json!({
        "type": "object", "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}, "links": reference("Links")},
    }));
    schemas.insert("Collection".into(), json!({
        "type": "object", "required": ["id", "links", "extent"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "itemType": {"type": "string"}, "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
            "extent": {"type": "object", "properties": {
                "spatial": {"type": "object", "properties": {"bbox": {"type": "array", "items": reference("Bbox")}, "crs": {"type": "string"}}},
                "temporal": {"type": "object", "properties": {
                    "interval": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string", "format": "date-time", "nullable": true}}},
                    "trs": {"type": "string"}}},
            }},
            "links": reference("Links"),
        },
    }));
    schemas.insert("Collections".into(), json!({
        "type": "object", "required": ["links", "collections"],
        "properties": {"links": reference("Links"), "collections": {"type": "array", "items": reference("Collection")}},
    }));
    schemas.insert("JsonSchema".into(), json!({
        "type": "object", "required": ["type", "properties"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "properties": {"type": "object"}},
    }));
    schemas.insert(
        "TriagePatch".into(),
        json!({
            "type": "object", "required": ["status"], "additionalProperties": false,
            "properties": {
                "status": {"type": "string", "enum": collections::STATUSES},
                "note": {"type": "string", "maxLength": MAX_NOTE},
            },
        }),
    );
    schemas.insert("TriageEvent".into(), json!({
        "type": "object", "required": ["status", "note", "by", "at"],
        "properties": {"status": {"type": "string"}, "note": {"type": "string"}, "by": {"type": "string"}, "at": {"type": "string"}},
    }));
    schemas.insert("TriageHistory".into(), json!({
        "type": "object", "required": ["alert_id", "status", "events"],
        "properties": {
            "alert_id": {"type": "string"}, "status": {"type": "string", "enum": collections::STATUSES},
            "etag": {"type": "string"},
            "events": {"type": "array", "items": reference("TriageEvent")}, "links": reference("Links"),
        },
    }));
    // The derived schemas: the `/stats` responses and every row type in them.
    if let Ok(Value::Object(derived)) = serde_json::to_value(
        Derived::openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default(),
    ) {
        schemas.extend(derived);
    }
    for def in collections::ALL {
        feature_schemas(def, &mut schemas);
    }
    json!({
        "schemas": schemas,
        "parameters": {
            "f": {"name": "f", "in": "query", "required": false, "description": "Response format (default: by the Accept header, else JSON)",
                  "schema": {"type": "string", "enum": ["json", "html"]}, "style": "form", "explode": false},
            "bbox": {"name": "bbox", "in": "query", "required": false,
                     "description": "Only features intersecting this box: min lon, min lat, max lon, max lat (CRS84)",
                     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                     "style": "form", "explode": false},
            "limit": {"name": "limit", "in": "query", "required": false,
                      "description": format!("Features per page (default {DEFAULT_LIMIT}; larger values are served as {MAX_LIMIT})"),
                      "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                      "style": "form", "explode": false},
            "offset": {"name": "offset", "in": "query", "required": false,
                       "description": "Features to skip (paging; the next/prev links carry it)",
                       "schema": {"type": "integer", "minimum": 0, "default": 0}, "style": "form", "explode": false},
            "datetime": {"name": "datetime", "in": "query", "required": false,
                         "description": "Only features whose time intersects this instant or interval (RFC 3339; a/b, .. for open ends)",
                         "schema": {"type": "string"}, "style": "form", "explode": false},
            "itemsF": {"name": "f", "in": "query", "required": false,
                       "description": "Response format: json or html (default: by the Accept header, else JSON), or an export of every matched feature (of the page with limit/offset): gpkg, shp (a zip with .cpg), kml, gpx (waypoints at centroids), csv, xlsx",
                       "schema": {"type": "string", "enum": ["json", "html", "gpkg", "shp", "kml", "gpx", "csv", "xlsx"]}, "style": "form", "explode": false},
            "crs": {"name": "crs", "in": "query", "required": false,
                    "description": format!("CRS of the returned coordinates (OGC API - Features Part 2), in its own axis order; default CRS84. One of: {}",
                        crate::crs::SUPPORTED.iter().map(|c| format!("{} ({})", c.uri, c.name)).collect::<Vec<_>>().join("; ")),
                    "schema": {"type": "string", "enum": crate::crs::SUPPORTED.iter().map(|c| c.uri).collect::<Vec<_>>()}, "style": "form", "explode": false},
            "bbox-crs": {"name": "bbox-crs", "in": "query", "required": false,
                         "description": "CRS of bbox (its axis order); default CRS84",
                         "schema": {"type": "string", "enum": crate::crs::SUPPORTED.iter().map(|c| c.uri).collect::<Vec<_>>()}, "style": "form", "explode": false},
            "sortby": {"name": "sortby", "in": "query", "required": false,
                       "description": "Sort by properties of the collection's schema (or id): comma-separated, + ascending (default), - descending, e.g. -area_ha,id; nulls last",
                       "schema": {"type": "string"}, "style": "form", "explode": false},
            "filter": {"name": "filter", "in": "query", "required": false,
                       "description": format!("A CQL2 text filter on the collection's properties: =, <>, <, <=, >, >=, LIKE, IN, BETWEEN, IS NULL, AND, OR, NOT, parentheses; 'text', numbers, TRUE/FALSE, DATE('YYYY-MM-DD'), TIMESTAMP('...'). At most {} characters", crate::cql2::MAX_LEN),
                       "schema": {"type": "string"}, "style": "form", "explode": false},
            "filter-lang": {"name": "filter-lang", "in": "query", "required": false,
                            "description": "The filter's language: cql2-text (the only one)",
                            "schema": {"type": "string", "enum": ["cql2-text"]}, "style": "form", "explode": false},
            "featureId": {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}},
            "lang": {"name": "lang", "in": "query", "required": false,
                     "description": "Language of HTML pages, the map and error messages: vi (Vietnamese) or en (English); default: the Accept-Language header, else vi",
                     "schema": {"type": "string", "enum": ["vi", "en"]}, "style": "form", "explode": false},
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A ranger's token (configured with --tokens / CANOPY_TOKENS)"},
        },
    })
}

/// The OpenAPI document with `base` as its server.
pub fn document(base: &str) -> Value {
    let mut paths = Map::new();
    let f = || param_ref("f");
    let t = &["Capabilities"];
    paths.insert("/".into(), json!({"get": op("getLandingPage", "Landing page", t, vec![f()], ok("Links to the API, conformance, collections and the map", "application/json", reference("LandingPage"), true), &[400])}));
    paths.insert("/conformance".into(), json!({"get": op("getConformance", "Conformance classes", t, vec![f()], ok("Conformance classes", "application/json", reference("ConfClasses"), true), &[400])}));
    paths.insert("/api".into(), json!({"get": op("getApi", "This OpenAPI document", t, vec![f()], ok("The OpenAPI 3.0 document", "application/vnd.oai.openapi+json;version=3.0", json!({"type": "object"}), true), &[400])}));
    paths.insert("/collections".into(), json!({"get": op("getCollections", "The collections", t, vec![f()], ok("Collections", "application/json", reference("Collections"), true), &[400])}));
    for def in collections::ALL {
        let id = def.id;
        let name = capitalized(id);
        let tag = &[def.title];
        paths.insert(format!("/collections/{id}"), json!({"get": op(&format!("describe{name}"), &format!("The {id} collection"), tag, vec![f()], ok("Collection", "application/json", reference("Collection"), true), &[400])}));
        let mut params = vec![
            param_ref("itemsF"),
            param_ref("bbox"),
            param_ref("bbox-crs"),
            param_ref("limit"),
            param_ref("offset"),
            param_ref("datetime"),
            param_ref("crs"),
            param_ref("sortby"),
            param_ref("filter"),
            param_ref("filter-lang"),
        ];
        params.extend(filter_params(def));
        let mut page = ok(
            "A page of features",
            "application/geo+json",
            reference(&format!("{name}FeatureCollection")),
            true,
        );
        for ty in [
            "application/geopackage+sqlite3",
            "application/zip",
            "application/vnd.google-earth.kml+xml",
            "application/gpx+xml",
            "text/csv; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ] {
            page["content"][ty] = json!({"schema": {"type": "string", "format": "binary"}});
        }
        page["headers"] = json!({"Content-Crs": {"schema": {"type": "string"}, "description": "The CRS of the coordinates, <URI>"}});
        paths.insert(
            format!("/collections/{id}/items"),
            json!({"get": op(
            &format!("get{name}Features"),
            &format!("{}: {}. datetime: {}", def.title, def.description, def.time),
            tag, params, page,
            &[400, 404, 413, 503])}),
        );
        let mut item = json!({"get": op(&format!("get{name}Feature"), &format!("One feature of {id}"), tag, vec![param_ref("featureId"), f(), param_ref("crs")],
            ok("The feature (alerts: with an ETag header for PATCH's If-Match)", "application/geo+json", reference(&format!("{name}Feature")), true), &[400, 404])});
        if id == "alerts" {
            item["get"]["responses"]["200"]["headers"] = json!({"ETag": {"schema": {"type": "string"}, "description": "Send it back in If-Match when patching"}});
            let mut patch = op(
                "triageAlert",
                "Record a ranger's triage of the alert (status new/confirmed/dismissed and a note)",
                tag,
                vec![
                    param_ref("featureId"),
                    json!({"name": "If-Match", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The alert's ETag from GET"}),
                ],
                ok(
                    "The updated alert, with its new ETag",
                    "application/geo+json",
                    reference("AlertsFeature"),
                    false,
                ),
                &[400, 401, 404, 405, 412, 413, 415, 422, 428],
            );
            patch["requestBody"] = json!({"required": true, "description": format!("At most {MAX_BODY} bytes"),
                "content": {"application/json": {"schema": reference("TriagePatch")}}});
            patch["security"] = json!([{"bearer": []}]);
            patch["responses"]["200"]["headers"] = json!({"ETag": {"schema": {"type": "string"}}});
            item["patch"] = patch;
            paths.insert(format!("/collections/{id}/items/{{featureId}}/history"), json!({"get": op("getAlertHistory", "Every triage event of the alert, oldest first", tag,
                vec![param_ref("featureId"), f()], ok("Triage history", "application/json", reference("TriageHistory"), true), &[400, 404])}));
            alert_media(id, tag, &mut paths);
        }
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), item);
        paths.insert(format!("/collections/{id}/queryables"), json!({"get": op(&format!("get{name}Queryables"), &format!("Properties of {id} that take a filter"), tag, vec![f()], ok("JSON Schema", "application/schema+json", reference("JsonSchema"), true), &[400])}));
        paths.insert(format!("/collections/{id}/schema"), json!({"get": op(&format!("get{name}Schema"), &format!("JSON Schema of the {id} features"), tag, vec![f()], ok("JSON Schema", "application/schema+json", reference("JsonSchema"), true), &[400])}));
    }
    let s = &["Statistics"];
    let q = json!({"name": "q", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Code or name, with or without diacritics (\"loc binh\" finds Lộc Bình); empty: every commune"});
    paths.insert("/stats/communes".into(), json!({"get": op("findCommunes", "Find communes by code or name", s, vec![f(), q], ok("Matching communes, best first", "application/json", reference("CommuneMatches"), true), &[400])}));
    paths.insert("/stats/communes/{commune}".into(), json!({"get": op("getCommuneSeries", "A commune's cover per epoch and its change rows", s,
        vec![json!({"name": "commune", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Code, or a name matching one commune"}), f()],
        ok("Cover time series", "application/json", reference("CommuneSeries"), true), &[400, 404])}));
    let epoch = |n: &str, d: &str| json!({"name": n, "in": "query", "required": false, "schema": {"type": "string"}, "description": d});
    paths.insert("/stats/change".into(), json!({"get": op("getChange", "Change between two epochs per commune and for the province", s,
        vec![f(), epoch("from", "Earlier epoch id (default: the second latest)"), epoch("to", "Later epoch id (default: the latest)"),
             json!({"name": "commune", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this commune (code or name)"})],
        ok("Change figures", "application/json", reference("ChangeReport"), true), &[400, 404])}));
    paths.insert("/stats/province".into(), json!({"get": op("getProvince", "Province totals per epoch and province change", s, vec![f()], ok("Province figures", "application/json", reference("ProvinceReport"), true), &[400])}));
    let epoch_q = json!({"name": "epoch", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Epoch id (default: every epoch; for the report, the latest)"});
    paths.insert("/stats/species".into(), json!({"get": op("getSpecies", "Planting-zone figures per species, per commune and for the province (commune_code PROVINCE), overlaps between species, zone totals", s,
        vec![f(), epoch_q.clone(),
             json!({"name": "species", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this species"}),
             json!({"name": "commune", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this commune (code or name; PROVINCE for the province rows)"})],
        ok("Species figures", "application/json", reference("SpeciesReport"), true), &[400, 404])}));
    paths.insert("/stats/parcels".into(), json!({"get": op("getParcelSummary", "Forest plots (lô rừng): the change-tracking table (plots, area, forest at the start, loss, gain, forest at the end) per owner category, function, commune × function and commune", s,
        vec![f(),
             json!({"name": "grouping", "in": "query", "required": false, "schema": {"type": "string", "enum": canopy_store::parcels::GROUPINGS}, "description": "Only this grouping"}),
             json!({"name": "commune", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this commune code"}),
             json!({"name": "function", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this function (special-use, protection, production; Vietnamese labels too)"}),
             json!({"name": "owner_category", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this owner category (code or label)"}),
             json!({"name": "from", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only pairs from this epoch"}),
             json!({"name": "to", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only pairs to this epoch"})],
        ok("Plot summaries", "application/json", reference("ParcelsReport"), true), &[400])}));
    paths.insert("/stats/observations".into(), json!({"get": op("getObservations", "Per commune (and the province, commune_code PROVINCE) and epoch: scenes that reached it and the mean clear observations per pixel", s,
        vec![f(), json!({"name": "epoch", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this epoch (default: every epoch)"}),
             json!({"name": "commune", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only this commune (code or name; PROVINCE for the province rows)"})],
        ok("Scenes and clear observations", "application/json", reference("ObservationsReport"), true), &[400, 404])}));
    paths.insert("/stats/targets".into(), json!({"get": op("getTargets", "Progress against the plan's targets (cover rate by year, zone area by species)", s, vec![f()],
        ok("Progress", "application/json", reference("TargetsReport"), true), &[400])}));
    paths.insert("/stats/fire-danger".into(), json!({"get": op("getFireDanger", "Fire danger of one day: every commune's index and level, the bulletin (levels IV and V) and forest ha per level", s,
        vec![f(), json!({"name": "date", "in": "query", "required": false, "schema": {"type": "string"}, "description": "The day, YYYY-MM-DD (default: the last day)"})],
        ok("Fire danger", "application/json", reference("FireDanger"), true), &[400, 404])}));
    paths.insert("/stats/burned-area".into(), json!({"get": op("getBurnedArea", "Burned forest of one epoch pair by burn-severity class (dNBR, Key & Benson 2006) for the province, every commune and zone piece", s,
        vec![f(), epoch("from", "Earlier epoch id (default: the last pair with burned area)"), epoch("to", "Later epoch id")],
        ok("Burned area", "application/json", reference("BurnedArea"), true), &[400, 404])}));
    let mut report = op(
        "getReport",
        "The planners' report of an epoch, as canopy report writes it",
        s,
        vec![
            json!({"name": "f", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "html", "csv", "md"]}, "description": "Format (default: by the Accept header, else JSON)"}),
            epoch_q,
        ],
        ok("The report", "application/json", reference("Report"), true),
        &[400, 404, 503],
    );
    report["responses"]["200"]["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    report["responses"]["200"]["content"]["text/markdown"] = json!({"schema": {"type": "string"}});
    paths.insert("/stats/report".into(), json!({ "get": report }));
    tile_paths(&mut paths);
    let w = &["Web map"];
    paths.insert("/map".into(), json!({"get": {"operationId": "getMap", "summary": "The web map page (in the language of lang, else of Accept-Language)", "tags": w,
        "parameters": [param_ref("lang")],
        "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}, "400": errors(&[400])["400"]}}}));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Canopy",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Forest cover, change, alerts and planting zones per commune (OGC API - Features Part 1). Pages hold at most {MAX_LIMIT} features."),
            "license": {"name": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": components(),
    })
}

/// OGC API - Tiles: the tile matrix set and, per tiled collection, its tilesets and
/// tiles (`crate::tiles`).
fn tile_paths(paths: &mut Map<String, Value>) {
    let f = || param_ref("f");
    let t = &["Vector tiles"];
    let any = json!({"type": "object"});
    let path = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description});
    paths.insert("/tileMatrixSets".into(), json!({"get": op("getTileMatrixSets", "The tile matrix sets (WebMercatorQuad)", t, vec![f()], ok("Tile matrix sets", "application/json", any.clone(), true), &[400])}));
    paths.insert("/tileMatrixSets/{tileMatrixSetId}".into(), json!({"get": op("getTileMatrixSet", "A tile matrix set's definition (OGC 2D TMS 2.0)", t,
        vec![path("tileMatrixSetId", "WebMercatorQuad"), f()], ok("Tile matrix set", "application/json", any.clone(), true), &[400, 404])}));
    for (id, min) in crate::tiles::TILED {
        let name = capitalized(id);
        paths.insert(
            format!("/collections/{id}/tiles"),
            json!({"get": op(&format!("get{name}Tilesets"), &format!("The {id} vector tilesets"), t,
            vec![f()], ok("Tilesets", "application/json", any.clone(), true), &[400, 404])}),
        );
        paths.insert(format!("/collections/{id}/tiles/{{tileMatrixSetId}}"), json!({"get": op(&format!("get{name}Tileset"), &format!("The {id} tileset: limits per tile matrix, layer, URL template"), t,
            vec![path("tileMatrixSetId", "WebMercatorQuad"), f()], ok("Tileset", "application/json", any.clone(), true), &[400, 404])}));
        let mut tile = op(&format!("get{name}Tile"), &format!("A vector tile (MVT) of {id}, tile matrices {min} to {}; 204 when no feature shows in it", crate::mvt::MAX_ZOOM), t,
            vec![
                path("tileMatrixSetId", "WebMercatorQuad"),
                path("tileMatrix", "The zoom level, 0 to 22"),
                path("tileRow", "The row (y, from the north)"),
                path("tileCol", "The column (x, from the west)"),
                json!({"name": "f", "in": "query", "required": false, "schema": {"type": "string", "enum": ["mvt"]}}),
            ],
            json!({"description": "The tile", "content": {crate::tiles::MVT: {"schema": {"type": "string", "format": "binary"}}}}),
            &[400, 404]);
        tile["responses"]["204"] = json!({"description": "No feature in this tile"});
        paths.insert(format!("/collections/{id}/tiles/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), json!({"get": tile}));
    }
}

/// The schemas derived from the response structs (and the rows they hold). A type
/// that a listed one refers to must be listed too (a test checks every `$ref`).
#[derive(OpenApi)]
#[openapi(components(schemas(
    crate::respond::Link,
    crate::snapshot::Epoch,
    crate::snapshot::CoverRec,
    crate::snapshot::ChangeRec,
    crate::snapshot::Transition,
    crate::stats::CommuneMatch,
    crate::stats::CommuneMatches,
    crate::stats::CommuneSeries,
    crate::stats::NamedChange,
    crate::stats::ChangeReport,
    crate::stats::ProvinceReport,
    crate::stats::SpeciesReport,
    crate::stats::ObservationsReport,
    crate::stats::TargetsReport,
    crate::parcels::ParcelsReport,
    canopy_store::parcels::ParcelSummaryRow,
    canopy_core::parcel::ForestFunction,
    canopy_core::parcel::OwnerCategory,
    crate::fire::FireDanger,
    crate::fire::DangerCommune,
    crate::fire::BulletinEntry,
    crate::fire::LevelForest,
    crate::fire::BurnedArea,
    crate::fire::BurnedUnit,
    crate::fire::ClassHa,
    crate::fire::EpochPair,
    crate::fire::ClassInfo,
    canopy_core::fire::DangerRow,
    canopy_core::targets::Progress,
    canopy_core::targets::CoverProgress,
    canopy_core::targets::CoverTarget,
    canopy_core::targets::CoverStatus,
    canopy_core::targets::ZoneProgress,
    canopy_core::targets::ZoneTarget,
    canopy_core::targets::ZoneStatus,
    canopy_store::zones::SpeciesRow,
    canopy_store::zones::Overlap,
    canopy_store::zones::ZoneTotal,
    canopy_store::ObservationRow,
    canopy_report::Report,
    canopy_report::Line,
    canopy_report::AlertCounts,
)))]
pub struct Derived;

/// An alert's photos (upload, one photo) and evidence chips.
fn alert_media(id: &str, tag: &[&str], paths: &mut Map<String, Value>) {
    let images = || {
        Map::from_iter(["image/jpeg", "image/png", "image/webp"].map(|ty| {
            (
                ty.to_string(),
                json!({"schema": {"type": "string", "format": "binary"}}),
            )
        }))
    };
    let mut upload = op(
        "uploadAlertPhoto",
        "Add a ranger's photo (JPEG, PNG or WebP) to the alert's latest triage event, which must be the sender's own",
        tag,
        vec![
            param_ref("featureId"),
            json!({"name": "If-Match", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The alert's ETag (as the triage PATCH answered it)"}),
        ],
        json!({"description": "unused"}),
        &[400, 401, 404, 412, 413, 415, 422, 428, 503],
    );
    if let Some(responses) = upload["responses"].as_object_mut() {
        responses.remove("200");
        responses.insert("201".into(), json!({
            "description": "The stored photo (its URL also in Location; the alert's new ETag in ETag)",
            "content": {"application/json": {"schema": {"type": "object", "required": ["href", "alert_id", "event", "seq", "type", "bytes", "by", "at"],
                "properties": {"href": {"type": "string"}, "alert_id": {"type": "string"}, "event": {"type": "integer"}, "seq": {"type": "integer"},
                    "type": {"type": "string"}, "bytes": {"type": "integer"}, "by": {"type": "string"}, "at": {"type": "string"}}}}},
        }));
    }
    upload["requestBody"] =
        json!({"required": true, "description": "The image's bytes", "content": images()});
    upload["security"] = json!([{"bearer": []}]);
    paths.insert(
        format!("/collections/{id}/items/{{featureId}}/photos"),
        json!({ "post": upload }),
    );
    let photo = json!({"name": "photo", "in": "path", "required": true, "schema": {"type": "string"}, "description": "EVENT-SEQ, as the history's photo links give it"});
    paths.insert(
        format!("/collections/{id}/items/{{featureId}}/photos/{{photo}}"),
        json!({"get": op("getAlertPhoto", "One photo of the alert (a link of its history)", tag,
            vec![param_ref("featureId"), photo],
            json!({"description": "The photo, with its stored type", "content": images()}), &[400, 404, 503])}),
    );
    let file = json!({"name": "file", "in": "path", "required": true, "schema": {"type": "string"}, "description": "before.png, after.png or series.json"});
    paths.insert(
        format!("/collections/{id}/items/{{featureId}}/chips/{{file}}"),
        json!({"get": op("getAlertChip",
            "Evidence of the alert: image chips before and after, and its composite series (composite epochs only)", tag,
            vec![param_ref("featureId"), file],
            json!({"description": "The chip", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}, "application/json": {"schema": {"type": "object"}}}}),
            &[400, 404, 503])}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes that are the web map's own files, not the API.
    const NOT_API: &[&str] = &["/map/", "/static/{*path}", "/sw.js"];

    /// The documented paths a route of the router stands for.
    fn documented_as(route: &str) -> Vec<String> {
        let mut p = route.replace("{feature_id}", "{featureId}");
        for (a, b) in [
            ("{tile_matrix_set_id}", "{tileMatrixSetId}"),
            ("{tile_matrix}", "{tileMatrix}"),
            ("{tile_row}", "{tileRow}"),
            ("{tile_col}", "{tileCol}"),
        ] {
            p = p.replace(a, b);
        }
        if p.contains("{collection_id}") {
            let tiled = crate::tiles::TILED.iter().map(|t| t.0);
            let mut ids: Vec<&str> = collections::ALL.iter().map(|d| d.id).chain(tiled).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .map(|id| p.replace("{collection_id}", id))
                .collect()
        } else {
            vec![p]
        }
    }

    #[test]
    fn every_route_and_method_is_documented() {
        let doc = document("http://canopy.test");
        let paths = doc["paths"].as_object().unwrap();
        let mut missing = Vec::new();
        for (route, methods, _) in crate::routes() {
            if NOT_API.contains(&route) {
                continue;
            }
            for m in methods {
                if !documented_as(route)
                    .iter()
                    .any(|p| paths.get(p).is_some_and(|item| item.get(*m).is_some()))
                {
                    missing.push(format!("{} {route}", m.to_uppercase()));
                }
            }
        }
        assert!(missing.is_empty(), "routes missing from /api: {missing:?}");
        // and the reverse: nothing documented that the router does not serve
        let served: Vec<String> = crate::routes()
            .iter()
            .flat_map(|(r, _, _)| documented_as(r))
            .collect();
        let stale: Vec<&String> = paths.keys().filter(|p| !served.contains(p)).collect();
        assert!(stale.is_empty(), "documented but not routed: {stale:?}");
    }

    #[test]
    fn the_check_sees_a_route_that_is_not_documented() {
        let doc = document("http://canopy.test");
        let paths = doc["paths"].as_object().unwrap();
        assert!(!documented_as("/stats/nowhere")
            .iter()
            .any(|p| paths.contains_key(p)));
        assert!(paths["/stats/observations"].get("get").is_some());
        assert!(paths["/collections/alerts/items/{featureId}"]
            .get("patch")
            .is_some());
    }

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document("http://canopy.test");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50);
        for r in all {
            let ptr = r.trim_start_matches('#');
            assert!(doc.pointer(ptr).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn stats_schemas_come_from_the_structs() {
        let doc = document("http://canopy.test");
        let s = &doc["components"]["schemas"];
        // a field of each struct, named as serde names it
        assert!(s["CommuneMatches"]["properties"]["numberMatched"].is_object());
        assert!(s["ObservationRow"]["properties"]["clear_obs"].is_object());
        assert!(s["ChangeRec"]["properties"]["transitions"]["nullable"] == json!(true));
        assert!(
            s["Report"]["properties"]["shapes"].is_null(),
            "serde(skip) stays out"
        );
        // every map-language parameter is there
        assert_eq!(
            doc["components"]["parameters"]["lang"]["schema"]["enum"],
            json!(["vi", "en"])
        );
        let map = &doc["paths"]["/map"]["get"]["parameters"][0]["$ref"];
        assert_eq!(map, "#/components/parameters/lang");
    }
}
