# id_client.py - grpcio (not our code) as a client of Identity.Certify, from
# stubs generated with protoc from proto/identity.proto; the key and the
# CSR made with python3-cryptography (not our code either).
#   certify ADDR IDENTITY TOKEN OUTDIR [options]
#     --san NAME      a DNS subjectAltName (repeatable; default: IDENTITY)
#     --uri URI       a URI subjectAltName too
#     --no-san        no subjectAltName at all
#     --rsa           an RSA-2048 key instead of ECDSA P-256
#     --csr FILE      send FILE's bytes as the CSR instead
#     --tamper        flip a byte of the CSR's signature
#     --timeout S     the call's deadline (20 s)
# Prints "OK <valid_until seconds>" and writes OUTDIR/leaf.pem (the leaf),
# OUTDIR/chain.pem (the intermediates), OUTDIR/key.pem; or prints
# "status: <CODE> <message>".
#   raw ADDR FILE     FILE's bytes as the request message (not protobuf)
import os, sys
import grpc
import identity_pb2, identity_pb2_grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def pem(der):
    return x509.load_der_x509_certificate(der).public_bytes(
        serialization.Encoding.PEM)


def raw(addr, path):
    ch = grpc.insecure_channel(addr)
    call = ch.unary_unary("/io.linkerd.proxy.identity.Identity/Certify")
    try:
        call(open(path, "rb").read(), timeout=20)
        print("OK")
    except grpc.RpcError as e:
        print("status: %s %s" % (e.code().name, e.details()))
    return 0


def main(argv):
    if argv[1] == "raw":
        return raw(argv[2], argv[3])
    addr, ident, token, out = argv[2:6]
    opts = argv[6:]
    sans, uris, csr_file = [], [], None
    no_san = rsa_key = tamper = False
    timeout = 20.0
    i = 0
    while i < len(opts):
        o = opts[i]
        if o == "--san":
            sans.append(opts[i + 1]); i += 1
        elif o == "--uri":
            uris.append(opts[i + 1]); i += 1
        elif o == "--csr":
            csr_file = opts[i + 1]; i += 1
        elif o == "--timeout":
            timeout = float(opts[i + 1]); i += 1
        elif o == "--no-san":
            no_san = True
        elif o == "--rsa":
            rsa_key = True
        elif o == "--tamper":
            tamper = True
        i += 1
    if not sans and not no_san:
        sans = [ident]
    key = (rsa.generate_private_key(65537, 2048) if rsa_key
           else ec.generate_private_key(ec.SECP256R1()))
    if csr_file:
        csr = open(csr_file, "rb").read()
    else:
        b = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ident)]))
        names = [x509.DNSName(s) for s in sans] + \
                [x509.UniformResourceIdentifier(u) for u in uris]
        if names:
            b = b.add_extension(x509.SubjectAlternativeName(names), False)
        csr = b.sign(key, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER)
        if tamper:
            csr = csr[:-5] + bytes([csr[-5] ^ 0x55]) + csr[-4:]
    ch = grpc.insecure_channel(addr)
    stub = identity_pb2_grpc.IdentityStub(ch)
    req = identity_pb2.CertifyRequest(identity=ident,
                                      token=token.encode(),
                                      certificate_signing_request=csr)
    try:
        r = stub.Certify(req, timeout=timeout)
    except grpc.RpcError as e:
        print("status: %s %s" % (e.code().name, e.details()))
        return 0
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "leaf.pem"), "wb").write(pem(r.leaf_certificate))
    open(os.path.join(out, "chain.pem"), "wb").write(
        b"".join(pem(c) for c in r.intermediate_certificates))
    open(os.path.join(out, "key.pem"), "wb").write(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    print("OK %d" % r.valid_until.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
