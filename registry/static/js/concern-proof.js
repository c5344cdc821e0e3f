// The concern form's proof of work: find a number whose SHA-256 with the form's challenge
// starts with the required zero bits, then send the form. Without JavaScript (or without
// Web Crypto) the form is sent as it is and the server asks only that it was not sent at once.
(function () {
  "use strict";
  var form = document.querySelector("form.concern-form");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) return;
  var bits = parseInt(form.getAttribute("data-pow-bits"), 10) || 0;
  var progress = form.querySelector(".concern-progress");
  var encoder = new TextEncoder();

  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer), count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      return count + Math.clz32(bytes[i]) - 24;
    }
    return count;
  }

  function search(challenge, start) {
    var batch = [];
    for (var n = start; n < start + 512; n++) {
      batch.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n)));
    }
    return Promise.all(batch).then(function (digests) {
      for (var i = 0; i < digests.length; i++) {
        if (zeroBits(digests[i]) >= bits) return String(start + i);
      }
      return search(challenge, start + 512);
    });
  }

  form.addEventListener("submit", function (event) {
    var proof = form.querySelector("input[name=proof]");
    if (proof.value || bits <= 0) return;
    event.preventDefault();
    if (progress) progress.textContent = "Checking the form before sending…";
    search(form.querySelector("input[name=challenge]").value, 0).then(function (found) {
      proof.value = found;
      form.submit();
    });
  });
})();
