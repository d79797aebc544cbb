# per.gp - written by negbench plot per; edit and render with: gnuplot per.gp
# (data: per.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "per.png"
set datafile separator "\t"
set key outside right top
set style data histogram
set style histogram clustered gap 1 title offset 0,-1
set bmargin 4
set style fill solid 0.6 border -1
set yrange [0:*]
set ylabel "PER(x, y) = |H_x \\ H_y| / |H_x| at K = 20 (x: bars' group)"
plot newhistogram "dens-baby", \
     "per.dat" index 0 using 2:xtic(1) lc 1 title "y = rns", \
     "per.dat" index 0 using 3 lc 2 title "y = dns", \
     "per.dat" index 0 using 4 lc 3 title "y = hns", \
     newhistogram "dens-beauty", \
     "per.dat" index 1 using 2:xtic(1) lc 1 notitle, \
     "per.dat" index 1 using 3 lc 2 notitle, \
     "per.dat" index 1 using 4 lc 3 notitle, \
     newhistogram "dens-lastfm", \
     "per.dat" index 2 using 2:xtic(1) lc 1 notitle, \
     "per.dat" index 2 using 3 lc 2 notitle, \
     "per.dat" index 2 using 4 lc 3 notitle
set output
set terminal svg size 1200,600 noenhanced
set output "per.svg"
set datafile separator "\t"
set key outside right top
set style data histogram
set style histogram clustered gap 1 title offset 0,-1
set bmargin 4
set style fill solid 0.6 border -1
set yrange [0:*]
set ylabel "PER(x, y) = |H_x \\ H_y| / |H_x| at K = 20 (x: bars' group)"
plot newhistogram "dens-baby", \
     "per.dat" index 0 using 2:xtic(1) lc 1 title "y = rns", \
     "per.dat" index 0 using 3 lc 2 title "y = dns", \
     "per.dat" index 0 using 4 lc 3 title "y = hns", \
     newhistogram "dens-beauty", \
     "per.dat" index 1 using 2:xtic(1) lc 1 notitle, \
     "per.dat" index 1 using 3 lc 2 notitle, \
     "per.dat" index 1 using 4 lc 3 notitle, \
     newhistogram "dens-lastfm", \
     "per.dat" index 2 using 2:xtic(1) lc 1 notitle, \
     "per.dat" index 2 using 3 lc 2 notitle, \
     "per.dat" index 2 using 4 lc 3 notitle
set output
