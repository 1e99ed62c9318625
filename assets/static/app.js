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
