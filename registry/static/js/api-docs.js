// Starts Swagger UI on /api/v1/docs (registry/templates/swagger_ui.html). A file, not an
// inline script, so that the page keeps the app's Content-Security-Policy (script-src 'self').
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = JSON.parse(container.getAttribute("data-config") || "{}");
  config.url = container.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui-container";
  window.ui = window.SwaggerUIBundle(config);
})();
