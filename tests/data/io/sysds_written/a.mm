%%MatrixMarket matrix coordinate real general
3 3 5
1 1 1.0
1 3 3.0
3 1 -2.5
3 2 4.0
3 3 1.0E-20
