// Progressive enhancement: open [data-dialog] targets as modal dialogs.
// Without JavaScript, or without <dialog> support, the links simply navigate.
(function () {
  "use strict";

  if (typeof HTMLDialogElement !== "function" ||
      typeof HTMLDialogElement.prototype.showModal !== "function") {
    return;
  }

  var openers = new WeakMap();

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function focusFirstInput(dialog) {
    var input = dialog.querySelector(
      "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])"
    );
    if (input) {
      input.focus();
    }
  }

  function init() {
    each("[data-dialog]", function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (!(dialog instanceof HTMLDialogElement)) {
        return;
      }
      opener.addEventListener("click", function (event) {
        // Let modified clicks (new tab/window) behave like a normal link.
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
          return;
        }
        event.preventDefault();
        if (dialog.open) {
          return;
        }
        openers.set(dialog, opener);
        dialog.showModal();
        focusFirstInput(dialog);
      });
    });

    each("dialog", function (dialog) {
      dialog.addEventListener("click", function (event) {
        var target = event.target;
        var closer = target && target.closest ? target.closest("[data-close]") : null;
        if (closer && dialog.contains(closer)) {
          event.preventDefault();
          dialog.close();
        }
      });
      dialog.addEventListener("close", function () {
        var opener = openers.get(dialog);
        openers.delete(dialog);
        if (opener && document.body.contains(opener)) {
          opener.focus();
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

// Live password rules: tick each rule off as the user types. The server
// checks everything again; this only helps the user see where they stand.
(function () {
  "use strict";

  var checks = {
    length: function (v, li) {
      var n = Array.from(v).length;
      return n >= Number(li.getAttribute("data-min")) && n <= Number(li.getAttribute("data-max"));
    },
    upper: function (v) { return /\p{Lu}/u.test(v); },
    lower: function (v) { return /\p{Ll}/u.test(v); },
    digit: function (v) { return /\p{N}/u.test(v); },
    special: function (v) { return /[^\p{L}\p{N}]/u.test(v); }
  };

  function update(input, list) {
    var value = input.value.normalize ? input.value.normalize("NFKC") : input.value;
    Array.prototype.forEach.call(list.querySelectorAll("li[data-rule]"), function (li) {
      var check = checks[li.getAttribute("data-rule")];
      if (!check) {
        return; // e.g. "common": only the server knows
      }
      var met = value.length > 0 && check(value, li);
      li.classList.toggle("rule--met", met);
      var state = li.querySelector(".rule-state");
      if (!state) {
        state = document.createElement("span");
        state.className = "visually-hidden rule-state";
        li.appendChild(state);
      }
      state.textContent = met ? " (met)" : " (not met yet)";
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-rules]"), function (input) {
      var list = document.getElementById(input.getAttribute("data-rules"));
      if (!list) {
        return;
      }
      list.classList.add("rules--live");
      input.addEventListener("input", function () { update(input, list); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

// Shared workstations: warn before the idle timeout signs the user out, offer
// to stay signed in, and leave the page once the session has ended. The
// server ends the session on its own; this only keeps the screen honest.
// Only signed-in pages carry data-idle-timeout (seconds).
(function () {
  "use strict";

  var body = document.body;
  var timeout = body ? Number(body.getAttribute("data-idle-timeout")) : 0;

  // A personal page restored from the back/forward cache (for example after
  // Sign out and Back) is fetched again, so the server decides what to show.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && timeout > 0) {
      body.hidden = true;
      window.location.reload();
    }
  });

  if (!(timeout > 0) || typeof window.fetch !== "function") {
    return;
  }

  // The server records activity at most every min(timeout / 20, 30 s), so its
  // session can end up to that much sooner than a count from this page load.
  var slack = Math.min(timeout / 20, 30);
  var lead = timeout < 120 ? timeout / 2 : 60;
  var loaded;
  var warnTimer;
  var endTimer;
  var warning;

  function signedOut() {
    window.location.assign("/login");
  }

  function hideWarning() {
    if (warning && warning.parentNode) {
      warning.parentNode.removeChild(warning);
    }
    warning = null;
  }

  function stay(button) {
    button.disabled = true;
    window.fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual",
      headers: { "Accept": "text/html" }
    }).then(function (res) {
      if (res.type === "opaqueredirect" || !res.ok) {
        signedOut();
        return;
      }
      var hadFocus = warning && warning.contains(document.activeElement);
      hideWarning();
      start();
      if (hadFocus) {
        var main = document.getElementById("main");
        if (main) {
          main.focus();
        }
      }
    }, function () {
      button.disabled = false;
    });
  }

  function showWarning() {
    if (warning) {
      return;
    }
    var left = Math.max(1, Math.round((loaded + timeout * 1000 - Date.now()) / 1000));
    warning = document.createElement("div");
    warning.className = "idle-warning";
    warning.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.className = "idle-warning__text";
    text.textContent = left >= 55
      ? "You have been inactive for a while. For your security you will be signed out in about a minute."
      : "You have been inactive for a while. For your security you will be signed out in about " +
        left + (left === 1 ? " second." : " seconds.");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Stay signed in";
    button.addEventListener("click", function () { stay(button); });
    warning.appendChild(text);
    warning.appendChild(button);
    // An open modal dialog makes the rest of the page inert: warn inside it.
    var host = document.querySelector("dialog[open]") || document.getElementById("main") || body;
    host.insertBefore(warning, host.firstChild);
  }

  function start() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    loaded = Date.now();
    warnTimer = window.setTimeout(showWarning, Math.max(0, (timeout - slack - lead) * 1000));
    // One second after the session ended on the server, leave the page.
    endTimer = window.setTimeout(signedOut, (timeout + 1) * 1000);
  }

  start();
})();
