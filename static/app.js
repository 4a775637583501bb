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

  // <dialog> closers: [data-close-dialog] closes the dialog it sits in.
  document.addEventListener("click", function (e) {
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
  // Pending states. While an action is on its way its button is disabled,
  // says so to assistive technology (aria-busy) and shows a spinner (CSS),
  // so nobody clicks twice or wonders whether anything happened.
  function busy(btn, on) {
    if (!btn) { return; }
    if (on) {
      btn.setAttribute("aria-busy", "true");
      btn.setAttribute("aria-disabled", "true");
      btn.classList.add("is-busy");
      if ("disabled" in btn) { btn.disabled = true; }
    } else {
      btn.removeAttribute("aria-busy");
      btn.removeAttribute("aria-disabled");
      btn.classList.remove("is-busy");
      if ("disabled" in btn) { btn.disabled = false; }
    }
  }
  // The button an htmx request came from: the element itself (a link or
  // button) or the submit button of the form that sent it.
  function actionButton(elt, submitter) {
    if (!elt || !elt.matches) { return null; }
    if (elt.matches("button, a.btn, .menu-item")) { return elt; }
    if (elt.tagName === "FORM") {
      if (submitter && elt.contains(submitter)) { return submitter; }
      return elt.querySelector("button[type=submit], button:not([type])");
    }
    return null;
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var cfg = e.detail.requestConfig || {};
    var ev = cfg.triggeringEvent;
    var btn = actionButton(e.detail.elt, ev && ev.submitter);
    if (btn) { e.detail.elt.__busyButton = btn; busy(btn, true); }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var btn = e.detail.elt && e.detail.elt.__busyButton;
    if (!btn) { return; }
    // On the way to another page (a platform's sign-in): stay busy.
    if (e.detail.successful && e.detail.xhr && e.detail.xhr.getResponseHeader("HX-Redirect")) { return; }
    e.detail.elt.__busyButton = null;
    busy(btn, false);
  });
  // Plain forms (no htmx) load a new page; until it comes the button is
  // busy. The button is disabled a moment later, so its own name and
  // value still go with the form.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get") || form.hasAttribute("hx-delete") || form.method === "get") { return; }
    var btn = actionButton(form, e.submitter);
    if (btn) { setTimeout(function () { busy(btn, true); }, 0); }
  });
  // Coming back with the back button shows the page as it was left: undo.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) { return; }
    document.querySelectorAll(".is-busy").forEach(function (b) { busy(b, false); });
  });

  // After a disconnect the dialog and the row are gone; focus goes to the
  // message that says what happened, or else to the list's heading, never
  // to <body>.
  document.addEventListener("focusMessage", focusMessage);
  function focusMessage() {
    var target = document.querySelector("#flash .flash") || document.getElementById("accounts-heading");
    if (!target || document.activeElement === target) { return; }
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus();
  }

  // "More" menus (<details class="menu">): one open at a time, closed by a
  // click elsewhere or Escape (focus back on its button).
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (!d.contains(e.target) || e.target.closest(".menu-item")) { d.open = false; }
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    var d = e.target.closest && e.target.closest("details.menu[open], details.nav-menu[open]");
    if (d) { d.open = false; d.querySelector("summary").focus(); }
  });

  // The choose step: "1 of 1 selected" as boxes are ticked; once the plan's
  // room is used up, the other new accounts cannot be ticked.
  function chooseCount(form) {
    var room = parseInt(form.getAttribute("data-room"), 10) || 0;
    var out = form.querySelector("[data-testid=selected-count]");
    var boxes = form.querySelectorAll("input[name=account][data-new]");
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) { n++; } });
    if (room > 0) {
      boxes.forEach(function (b) {
        b.disabled = !b.checked && n >= room;
        var label = b.closest(".choice");
        if (label) { label.classList.toggle("choice-off", b.disabled); }
      });
    }
    if (out) {
      out.classList.toggle("selected-over", n > room);
      out.innerHTML = "";
      var strong = document.createElement("strong");
      strong.textContent = n + " of " + room;
      out.append(strong, " selected" + (n > room ? ": untick " + (n - room) : n === room ? ": the plan has no more room" : ""));
    }
  }
  function initChoose(root) {
    root.querySelectorAll("form[data-room]").forEach(chooseCount);
  }
  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-room]");
    if (form) { chooseCount(form); }
  });

  // Copy buttons ([data-copy="id"]), shown only where a script can copy.
  function initCopy(root) {
    root.querySelectorAll("[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-copy]");
    if (!b) { return; }
    var src = document.getElementById(b.getAttribute("data-copy"));
    if (!src) { return; }
    var text = src.textContent;
    var done = function () {
      b.textContent = "Copied";
      b.setAttribute("aria-live", "polite");
      setTimeout(function () { b.textContent = "Copy"; }, 2500);
    };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { if (document.execCommand("copy")) { done(); } } catch (err) { /* selected: the person copies */ }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  });
  function init(root) { initChoose(root); initCopy(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target.ownerDocument ? e.target : document); });

  // A message written here is about the connection: the next answer that
  // arrives makes it stale.
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful !== true) { return; }
    document.querySelectorAll("#flash [data-client]").forEach(function (el) { el.remove(); });
  });
})();
