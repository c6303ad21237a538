// Mailslot staff: security keys (WebAuthn). Progressive enhancement only: without this
// script the pages say that JavaScript is needed, and the login with a code is unchanged.
//
// Two forms use it, both posted as ordinary forms (no fetch):
//   #webauthn-register  /account/keys            navigator.credentials.create()
//   #webauthn-login     /login/webauthn/finish   navigator.credentials.get()
// Each carries the server's options as JSON in data-options. The browser's answer goes,
// as JSON, into the hidden "credential" field; the server checks it against the challenge
// it kept. Nothing here is trusted by the server.
(function () {
  "use strict";

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: fromBase64url(item.id), transports: item.transports };
    });
  }

  function creationOptions(json) {
    var options = JSON.parse(json);
    options.challenge = fromBase64url(options.challenge);
    options.user.id = fromBase64url(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = JSON.parse(json);
    options.challenge = fromBase64url(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function common(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function registrationJSON(credential) {
    var result = common(credential);
    result.response = {
      clientDataJSON: toBase64url(credential.response.clientDataJSON),
      attestationObject: toBase64url(credential.response.attestationObject),
    };
    return JSON.stringify(result);
  }

  function assertionJSON(credential) {
    var result = common(credential);
    var response = credential.response;
    result.response = {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
    };
    if (response.userHandle) {
      result.response.userHandle = toBase64url(response.userHandle);
    }
    return JSON.stringify(result);
  }

  function show(id, visible) {
    var element = document.getElementById(id);
    if (element) {
      element.hidden = !visible;
    }
  }

  // Ask the key, then post the form with its answer. On failure (cancelled, timed out,
  // no matching key) show the message and let the person try again.
  function ceremony(form, ask, encode) {
    var busy = false;
    function run() {
      if (busy) {
        return;
      }
      busy = true;
      show("webauthn-failed", false);
      ask(form.dataset.options).then(
        function (credential) {
          form.elements.namedItem("credential").value = encode(credential);
          form.submit();
        },
        function () {
          busy = false;
          show("webauthn-failed", true);
          show("webauthn-start", true);
        }
      );
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.reportValidity()) {
        run();
      }
    });
    return run;
  }

  function start() {
    var register = document.getElementById("webauthn-register");
    var login = document.getElementById("webauthn-login");
    if (!register && !login) {
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show("webauthn-unsupported", true);
      return;
    }
    if (register) {
      register.hidden = false;
      ceremony(
        register,
        function (json) {
          return navigator.credentials.create({ publicKey: creationOptions(json) });
        },
        registrationJSON
      );
    }
    if (login) {
      show("webauthn-start", true);
      var run = ceremony(
        login,
        function (json) {
          return navigator.credentials.get({ publicKey: requestOptions(json) });
        },
        assertionJSON
      );
      run(); // the person asked for the key on the previous page: ask it at once
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
