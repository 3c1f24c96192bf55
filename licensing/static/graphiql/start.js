// Starts GraphiQL on the page of GET /graphql (licensing/templates/graphiql.html). A file of
// its own, not an inline script, so that the page's Content-Security-Policy is script-src 'self'.
"use strict";

(function () {
  var root = document.getElementById("graphiql");
  // The nonce of this page's style-src: the <style> that GraphiQL's dialogs add takes it from
  // here (react-remove-scroll reads the global __webpack_nonce__), else the policy blocks it.
  window.__webpack_nonce__ = root.dataset.styleNonce;

  var endpoint = window.location.origin + window.location.pathname;
  var socket = new URL(endpoint);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";

  // Queries go over HTTP with the headers of the Headers tab. Subscriptions open a
  // graphql-transport-ws socket, and GraphiQL sends those same headers as the connection_init
  // payload, which is where the server reads the Authorization header of a socket.
  var fetcher = GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: socket.href });

  var defaultQuery = [
    "# Put your token in the Headers tab below:",
    '#   {"Authorization": "Bearer TOKEN"}',
    "# then run this with Ctrl-Enter.",
    "",
    "{",
    "  viewer {",
    "    name",
    "  }",
    "}",
    "",
  ].join("\n");

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
    })
  );
})();
