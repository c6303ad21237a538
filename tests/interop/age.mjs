// The independent age implementation for Mailslot's interoperability tests
// (tests/unit/drops/test_interop.py), driven through stdin and stdout:
//   node age.mjs keygen                 prints {"identity": ..., "recipient": ...} (post-quantum)
//   node age.mjs recipient IDENTITY     prints the recipient of an identity
//   node age.mjs encrypt RECIPIENT...   encrypts stdin to stdout
//   node age.mjs decrypt IDENTITY...    decrypts stdin (binary or armored) to stdout
import { Decrypter, Encrypter, armor, generateHybridIdentity, identityToRecipient } from "age-encryption"

async function readStdin() {
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    return new Uint8Array(Buffer.concat(chunks))
}

function write(data) {
    return new Promise((resolve, reject) => {
        process.stdout.write(data, (err) => (err ? reject(err) : resolve()))
    })
}

const [command, ...args] = process.argv.slice(2)
if (command === "keygen") {
    const identity = await generateHybridIdentity()
    const recipient = await identityToRecipient(identity)
    await write(JSON.stringify({ identity, recipient }) + "\n")
} else if (command === "recipient") {
    await write((await identityToRecipient(args[0])) + "\n")
} else if (command === "encrypt") {
    const e = new Encrypter()
    for (const r of args) e.addRecipient(r)
    await write(await e.encrypt(await readStdin()))
} else if (command === "decrypt") {
    const d = new Decrypter()
    for (const i of args) d.addIdentity(i)
    let input = await readStdin()
    const text = new TextDecoder().decode(input.subarray(0, 64))
    if (text.trimStart().startsWith("-----BEGIN")) input = armor.decode(new TextDecoder().decode(input))
    await write(await d.decrypt(input))
} else {
    process.stderr.write("usage: age.mjs keygen | recipient ID | encrypt R... | decrypt ID...\n")
    process.exit(2)
}
