"""Output safety: --out replaced atomically and only where revsim wrote it; user text kept as data in HTML, Excel, CSV and the terminal."""
