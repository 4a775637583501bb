// OmniSocial's only script beside htmx. Everything works without it; it
// adds small comforts and needs no inline code (the CSP forbids that).
(function () {
  "use strict";
  // Dismiss success/info messages after a while; errors stay until read.
  function fade(root) {
    root.querySelectorAll(".flash-success, .flash-info").forEach(function (el) {
      setTimeout(function () { el.classList.add("flash-gone"); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { fade(document); });
  document.addEventListener("htmx:afterSettle", function (e) { fade(e.target.ownerDocument || document); });

  // <dialog> openers: [data-open-dialog="id"] opens, [data-close-dialog] closes.
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open-dialog]");
    if (opener) {
      var d = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (d && d.showModal) { e.preventDefault(); d.showModal(); }
      return;
    }
    var closer = e.target.closest("[data-close-dialog]");
    if (closer) {
      var dlg = closer.closest("dialog");
      if (dlg) { e.preventDefault(); dlg.close(); }
    }
  });
  // htmx swaps that bring a dialog open it at once.
  document.addEventListener("htmx:afterSettle", function (e) {
    var d = e.target.querySelector && e.target.querySelector("dialog[data-autoopen]");
    if (d && !d.open && d.showModal) { d.showModal(); }
  });

  // Failed htmx requests are said in the message area (#flash). The server
  // answers a failure with its message and HX-Retarget: #flash, which
  // htmxConfig swaps in. Here: a dialog the request came from closes,
  // because a modal dialog covers the page and would hide the message, and
  // the question it asked no longer stands as asked (the account is gone,
  // the form expired, the server is away); asking again is one click. An
  // error body without that header (a proxy's error page) never lands in
  // the page, and a request that got no answer at all gets words too.
  function requester(detail) {
    return (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
  }
  function closeDialogOf(elt) {
    var d = elt && elt.closest && elt.closest("dialog");
    if (d && d.open) { d.close(); }
  }
  // Bring the message into view after something the person did (not after
  // a background poll, which must not scroll the page under them).
  function reveal(detail) {
    var area = document.getElementById("flash");
    var ev = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (area && ev && ev.isTrusted) { area.scrollIntoView({ block: "nearest" }); }
  }
  function say(detail, text) {
    var area = document.getElementById("flash");
    if (!area) { return; }
    var el = document.createElement("div");
    el.className = "flash flash-error";
    el.setAttribute("role", "alert");
    el.setAttribute("data-testid", "flash");
    el.setAttribute("data-client", ""); // cleared by the next answer
    el.textContent = text;
    area.replaceChildren(el);
    closeDialogOf(requester(detail));
    reveal(detail);
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var d = e.detail;
    if (!d.isError) { return; }
    if (d.xhr.getResponseHeader("HX-Retarget") === "#flash") {
      closeDialogOf(requester(d));
      return;
    }
    d.shouldSwap = false;
    say(d, "OmniSocial answered with an error (" + d.xhr.status + "). Try again in a moment; if it keeps happening, reload the page.");
  });
  document.addEventListener("htmx:responseError", function (e) { reveal(e.detail); });
  document.addEventListener("htmx:sendError", function (e) {
    say(e.detail, "OmniSocial could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function (e) {
    say(e.detail, "OmniSocial took too long to answer. Reload the page in a moment to see whether it was done.");
  });
  document.addEventListener("htmx:targetError", function (e) {
    say(e.detail, "This page is out of date. Reload it and try again.");
  });
  // A message written here is about the connection: the next answer that
  // arrives makes it stale.
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful !== true) { return; }
    document.querySelectorAll("#flash [data-client]").forEach(function (el) { el.remove(); });
  });
})();
