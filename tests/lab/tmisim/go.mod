module tmisim

go 1.19
