module rblab/pprofgo

go 1.19
