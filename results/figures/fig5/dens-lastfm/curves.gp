# curves.gp - written by negbench plot curves; edit and render with: gnuplot curves.gp
# (data: curves.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "curves.png"
set datafile separator "\t"
set key outside right top
set xlabel "epoch"
set ylabel "recall@20 (test, mean ± sd over seeds)"
plot "curves.dat" index 0 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 1 notitle, \
     "" index 0 using 1:2 with lines lw 2 lc 1 title "rns dens-lastfm", \
     "curves.dat" index 1 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 2 notitle, \
     "" index 1 using 1:2 with lines lw 2 lc 2 title "dns dens-lastfm", \
     "curves.dat" index 2 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 3 notitle, \
     "" index 2 using 1:2 with lines lw 2 lc 3 title "ans negative dens-lastfm", \
     "curves.dat" index 3 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 4 notitle, \
     "" index 3 using 1:2 with lines lw 2 lc 4 title "ans positive dens-lastfm"
set output
set terminal svg size 1200,600 noenhanced
set output "curves.svg"
set datafile separator "\t"
set key outside right top
set xlabel "epoch"
set ylabel "recall@20 (test, mean ± sd over seeds)"
plot "curves.dat" index 0 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 1 notitle, \
     "" index 0 using 1:2 with lines lw 2 lc 1 title "rns dens-lastfm", \
     "curves.dat" index 1 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 2 notitle, \
     "" index 1 using 1:2 with lines lw 2 lc 2 title "dns dens-lastfm", \
     "curves.dat" index 2 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 3 notitle, \
     "" index 2 using 1:2 with lines lw 2 lc 3 title "ans negative dens-lastfm", \
     "curves.dat" index 3 using 1:3:4 with filledcurves fillstyle transparent solid 0.2 noborder lc 4 notitle, \
     "" index 3 using 1:2 with lines lw 2 lc 4 title "ans positive dens-lastfm"
set output
