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
})();
