# efficiency.gp - written by negbench plot efficiency; edit and render with: gnuplot efficiency.gp
# (data: efficiency.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "efficiency.png"
set datafile separator "\t"
set key outside right top
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set ylabel "training seconds per epoch"
set yrange [0:*]
plot "efficiency.dat" index 0 using 2:3:xtic(1) title "dens-baby", \
     "efficiency.dat" index 0 using 4:5 title "dens-beauty", \
     "efficiency.dat" index 0 using 6:7 title "dens-lastfm"
set output
set terminal svg size 1200,600 noenhanced
set output "efficiency.svg"
set datafile separator "\t"
set key outside right top
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set ylabel "training seconds per epoch"
set yrange [0:*]
plot "efficiency.dat" index 0 using 2:3:xtic(1) title "dens-baby", \
     "efficiency.dat" index 0 using 4:5 title "dens-beauty", \
     "efficiency.dat" index 0 using 6:7 title "dens-lastfm"
set output
