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
    // A native <dialog> (focus trap, Escape, backdrop) dressed as the USWDS modal.
    const dialog = document.createElement("dialog");
    dialog.className = "usa-modal confirm-dialog";
    const content = document.createElement("div");
    content.className = "usa-modal__content";
    const main = document.createElement("div");
    main.className = "usa-modal__main";
    const heading = page.querySelector("h1");
    const title = document.createElement("h2");
    title.id = "confirm-dialog-title";
    title.className = "usa-modal__heading";
    title.textContent = heading ? heading.textContent : "";
    if (heading) heading.replaceWith(title);
    dialog.setAttribute("aria-labelledby", title.id);
    main.append(...page.childNodes);
    content.append(main);
    dialog.append(content);
    dialog.querySelectorAll(".confirm-actions a.usa-button--outline").forEach((cancel) => {
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
