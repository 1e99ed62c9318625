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

// The User Profile pop-up submits its forms in place: the answer (saved, or
// what to fix) shows inside the pop-up instead of on the /profile page. The
// server is unchanged and answers as it does without JavaScript; this reads
// that answer. Anything but a profile page (the sign-in page after a session
// ended, the forced password change) is followed as a normal navigation.
(function () {
  "use strict";

  if (typeof window.fetch !== "function" || typeof window.DOMParser !== "function" ||
      typeof window.URLSearchParams !== "function" || typeof window.FormData !== "function") {
    return;
  }

  var PREFIX = "dlg-";

  function each(root, selector, fn) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), fn);
  }

  function alertBox(kind, lines) {
    var box = document.createElement("div");
    box.className = "alert alert--" + kind;
    box.id = PREFIX + (kind === "error" ? "form-errors" : "notice");
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    var lead = document.createElement("p");
    lead.className = "alert__text";
    if (kind === "error") {
      lead.textContent = "Please fix the following and try again:";
      var list = document.createElement("ul");
      lines.forEach(function (line) {
        var li = document.createElement("li");
        li.textContent = line;
        list.appendChild(li);
      });
      box.appendChild(lead);
      box.appendChild(list);
    } else {
      lead.textContent = lines.join(" ");
      box.appendChild(lead);
    }
    return box;
  }

  // Clears earlier answers and the fields they marked.
  function clearMarks(dialog, messages) {
    messages.textContent = "";
    each(dialog, "[aria-invalid]", function (input) {
      input.removeAttribute("aria-invalid");
      var described = (input.getAttribute("aria-describedby") || "").split(" ")
        .filter(function (id) { return id && id !== PREFIX + "form-errors"; });
      if (described.length) {
        input.setAttribute("aria-describedby", described.join(" "));
      } else {
        input.removeAttribute("aria-describedby");
      }
    });
  }

  function markInvalid(dialog, answer) {
    var first = null;
    // The page's forms name their fields without the pop-up's prefix.
    each(answer, "main form [aria-invalid=true]", function (field) {
      var input = document.getElementById(PREFIX + field.id);
      if (!input || !dialog.contains(input)) {
        return;
      }
      input.setAttribute("aria-invalid", "true");
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      described.push(PREFIX + "form-errors");
      input.setAttribute("aria-describedby", described.join(" "));
      first = first || input;
    });
    return first;
  }

  function texts(root, selector) {
    return Array.prototype.map.call(root.querySelectorAll(selector), function (e) {
      return e.textContent.trim();
    }).filter(Boolean);
  }

  // A new session (after a password change) comes with a new CSRF token.
  function takeToken(answer) {
    var token = answer.querySelector("input[name=csrf_token]");
    if (token) {
      each(document, "input[name=csrf_token]", function (input) { input.value = token.value; });
    }
  }

  function apply(dialog, messages, form, status, answer) {
    takeToken(answer);
    var summary = answer.getElementById(PREFIX + "summary");
    var mine = document.getElementById(PREFIX + "summary");
    if (summary && mine) {
      mine.innerHTML = summary.innerHTML;
    }
    each(form, "input[type=password]", function (input) { input.value = ""; });
    if (status === 200) {
      messages.appendChild(alertBox("success", texts(answer, "main .alert--success .alert__text")));
      // The saved values, as the server now holds them.
      each(form, "input[name=email], input[name=phone]", function (input) {
        var saved = answer.getElementById(PREFIX + input.name);
        if (saved) {
          input.value = saved.value;
        }
      });
      // On the profile page itself, its details and contact fields are stale
      // now. Only those are refreshed: replacing the page's forms would drop
      // the live password-rule checks bound to them.
      var details = document.querySelector("main dl.details");
      var freshDetails = answer.querySelector("main dl.details");
      if (details && freshDetails) {
        details.innerHTML = freshDetails.innerHTML;
      }
      each(document, "main form input[name=email], main form input[name=phone]", function (input) {
        var saved = answer.querySelector("main form input[name=" + input.name + "]");
        if (saved) {
          input.value = saved.value;
        }
      });
      return;
    }
    var errors = texts(answer, "main #form-errors li");
    if (!errors.length) {
      // An error page (e.g. an expired form): its heading and text say what happened.
      errors = texts(answer, "main h1, main p");
    }
    messages.appendChild(alertBox("error", errors));
    var first = markInvalid(dialog, answer);
    if (first) {
      first.focus();
    }
  }

  function init() {
    var dialog = document.getElementById("profile-dialog");
    var messages = document.getElementById(PREFIX + "messages");
    if (!dialog || !messages) {
      return;
    }
    dialog.addEventListener("submit", function (event) {
      var form = event.target;
      // The Close button's form has method="dialog": leave it to the browser.
      if (!(form instanceof HTMLFormElement) || form.method !== "post") {
        return;
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
      }
      var action = new URL(form.getAttribute("action"), window.location.href);
      window.fetch(action.href, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Accept": "text/html" }
      }).then(function (res) {
        var at = new URL(res.url);
        if (at.pathname !== "/profile" && at.pathname !== action.pathname) {
          // The session ended, or a new password is required first.
          window.location.assign(at.href);
          return null;
        }
        return res.text().then(function (html) {
          clearMarks(dialog, messages);
          var answer = new DOMParser().parseFromString(html, "text/html");
          apply(dialog, messages, form, res.status, answer);
        });
      }).catch(function () {
        clearMarks(dialog, messages);
        messages.appendChild(alertBox("error", [
          "The server could not be reached. Check the connection and try again."
        ]));
      }).then(function () {
        if (button) {
          button.disabled = false;
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
