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
