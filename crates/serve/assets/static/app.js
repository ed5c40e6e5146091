// Keeps the incidents list current: every 10 seconds the list is asked again (the same
// filters) and its live part replaced by the server's rendering (escaped by its templates).
"use strict";
(function () {
  var live = document.getElementById("live");
  if (!live) { return; }
  function refresh() {
    fetch(window.location.pathname + window.location.search, {
      headers: { "X-Fragment": "live" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== undefined) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        live.replaceChildren.apply(live, Array.prototype.slice.call(doc.body.childNodes));
      }
    }).catch(function () { /* offline for a moment: try again at the next tick */ });
  }
  window.setInterval(refresh, 10000);
})();
