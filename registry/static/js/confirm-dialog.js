// Confirmation in a modal dialog. Without JavaScript, a link marked `data-confirm` opens the
// server's confirmation page; with it, the same page's content opens in a <dialog> here.
(function () {
  "use strict";

  function close(dialog, opener) {
    dialog.close();
    dialog.remove();
    if (opener) opener.focus();
  }

  async function open(link, event) {
    event.preventDefault();
    let html;
    try {
      const response = await fetch(link.href, { credentials: "same-origin" });
      if (!response.ok || response.redirected) throw new Error(String(response.status));
      html = await response.text();
    } catch (error) {
      window.location.assign(link.href); // the confirmation page itself still works
      return;
    }
    const page = new DOMParser().parseFromString(html, "text/html").querySelector(".confirm-page");
    if (!page) {
      window.location.assign(link.href);
      return;
    }
    const dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    const heading = page.querySelector("h1");
    const title = document.createElement("h2");
    title.id = "confirm-dialog-title";
    title.textContent = heading ? heading.textContent : "";
    if (heading) heading.replaceWith(title);
    dialog.setAttribute("aria-labelledby", title.id);
    dialog.append(...page.childNodes);
    dialog.querySelectorAll(".confirm-actions a.button-secondary").forEach((cancel) => {
      cancel.addEventListener("click", (e) => {
        e.preventDefault();
        close(dialog, link);
      });
    });
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(dialog, link);
    });
    document.body.append(dialog);
    dialog.showModal();
    const confirmButton = dialog.querySelector("button[type=submit]");
    if (confirmButton) confirmButton.focus();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-confirm]");
    if (link && !event.defaultPrevented && event.button === 0 && !event.metaKey && !event.ctrlKey) {
      open(link, event);
    }
  });
})();
