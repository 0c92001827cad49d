# Writes a minimal pure-Python wheel: make_wheel.py NAME VERSION OUT.whl (tests and benches).
import base64, hashlib, os, sys, zipfile
name, version, out = sys.argv[1:4]
os.makedirs(os.path.dirname(out), exist_ok=True)
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: jenv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
lines = []
with zipfile.ZipFile(out, "w") as wheel:
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
        wheel.writestr(path, data)
    lines.append(f"{info}/RECORD,,")
    wheel.writestr(f"{info}/RECORD", "\n".join(lines) + "\n")
