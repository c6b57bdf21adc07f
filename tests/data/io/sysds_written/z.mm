%%MatrixMarket matrix coordinate real general
2 3 0
0 0 0
