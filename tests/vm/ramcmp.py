#!/usr/bin/env python3
"""ramcmp.py A B -- compare two RAM images (pmemsave) page by page (4 KiB).
Prints 'pages=N differ=M' and up to 8 differing page numbers; exit 0 when
equal, 1 when any page differs, 2 on a size mismatch or read error."""
import sys

PAGE = 4096


def main():
    a, b = sys.argv[1], sys.argv[2]
    pages = differ = 0
    first = []
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x = fa.read(PAGE * 256)
            y = fb.read(PAGE * 256)
            if len(x) != len(y):
                print(f"size mismatch at page {pages}")
                return 2
            if not x:
                break
            if x != y:
                for i in range(0, len(x), PAGE):
                    if x[i:i + PAGE] != y[i:i + PAGE]:
                        differ += 1
                        if len(first) < 8:
                            first.append(hex(pages + i // PAGE))
            pages += (len(x) + PAGE - 1) // PAGE
    print(f"pages={pages} differ={differ}" + (f" first={','.join(first)}" if first else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
