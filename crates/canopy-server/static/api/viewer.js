// The interactive API viewer at /api?f=html: Swagger UI (from npm, vendored by
// web/build.sh) over this server's own OpenAPI document (/api?f=json). No inline
// script (the server's Content-Security-Policy allows scripts from itself only),
// no validator badge (it would call validator.swagger.io).
'use strict';
(function () {
  const box = document.getElementById('swagger-ui');
  if (typeof window.SwaggerUIBundle !== 'function') {
    box.textContent = 'The API viewer (Swagger UI) is missing from this build: run web/build.sh '
      + '(scripts/setup.sh does) and cargo build --release again. The OpenAPI document is at /api?f=json.';
    document.body.dataset.state = 'missing';
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: '/api?f=json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    onComplete: () => { document.body.dataset.state = 'ready'; },
  });
})();
