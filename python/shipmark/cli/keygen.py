"""shipmark keygen: a key pair for signing records."""

import os

from ..errors import InputError
from . import Output, common


def add(sub):
    p = sub.add_parser("keygen", help="make a signing key pair: PREFIX.key (private) and PREFIX.pub",
                       description="Write PREFIX.key (PEM private key, encrypted when "
                                   "SHIPMARK_SIGNING_KEY_PASSWORD is set; mode 0600) and PREFIX.pub (PEM public "
                                   "key, for the policy's `signers`). Existing files are never overwritten.")
    p.add_argument("--out", required=True, metavar="PREFIX", help="path prefix of the two files")
    p.add_argument("--type", default="ecdsa", choices=("ecdsa", "ed25519"),
                   help="ECDSA P-256 (default) or Ed25519")
    common(p)
    p.set_defaults(run=run)


def run(args, ctx) -> Output:
    from .. import keys
    private_path, public_path = args.out + ".key", args.out + ".pub"
    for path in (private_path, public_path):
        if os.path.exists(path):
            raise InputError(f"{path} exists", "choose another --out PREFIX; keys are never overwritten")
    key = keys.generate(args.type)
    password = ctx.settings.signing_key_password
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.pem(password))
        with open(public_path, "xb") as fh:
            fh.write(key.public.pem())
    except OSError as exc:
        raise InputError(f"cannot write the key files {args.out}.*: {exc.strerror}") from None
    data = {"private": private_path, "public": public_path, "keyid": key.keyid, "type": args.type,
            "encrypted": bool(password)}
    return Output(data, [f"wrote {private_path} ({'encrypted' if password else 'NOT encrypted'}) and {public_path}",
                         f"  keyid {key.keyid}",
                         f"  sign with: --signing-key {private_path}  (or SHIPMARK_SIGNING_KEY)",
                         f"  trust it:  signers: {{name: {public_path}}} in the policy"])
