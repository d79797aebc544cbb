# maxmin.gp - written by negbench plot maxmin; edit and render with: gnuplot maxmin.gp
# (data: maxmin.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "maxmin.png"
set datafile separator "\t"
set key outside right top
set xlabel "epoch"
set ylabel "normalised first-pass score (mean ± sd over seeds)"
plot "maxmin.dat" index 0 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 1 notitle, \
     "" index 0 using 1:2 with lines lw 2 lc 1 title "dns dens-lastfm max", \
     "maxmin.dat" index 1 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 2 notitle, \
     "" index 1 using 1:2 with lines lw 2 lc 2 title "dns dens-lastfm min"
set output
set terminal svg size 1200,600 noenhanced
set output "maxmin.svg"
set datafile separator "\t"
set key outside right top
set xlabel "epoch"
set ylabel "normalised first-pass score (mean ± sd over seeds)"
plot "maxmin.dat" index 0 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 1 notitle, \
     "" index 0 using 1:2 with lines lw 2 lc 1 title "dns dens-lastfm max", \
     "maxmin.dat" index 1 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 2 notitle, \
     "" index 1 using 1:2 with lines lw 2 lc 2 title "dns dens-lastfm min"
set output
