"""The recognizer's alphabet. Index 0 of the network output is the CTC blank; class i+1 is CHARSET[i].

The ONNX file carries this string in its metadata (`charset`); the runtime uses the file's copy, so a
retrained model with another alphabet needs no code change.
"""

CHARSET = (
    " 0123456789"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz"
    "-/.:#()+%,*$@&'!=_\";?"
)
