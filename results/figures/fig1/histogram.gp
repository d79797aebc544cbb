# histogram.gp - written by negbench plot histogram; edit and render with: gnuplot histogram.gp
# (data: histogram.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "histogram.png"
set datafile separator "\t"
set key outside right top
set xlabel "score of unobserved (user, item) pairs"
set ylabel "density (shaded: the lowest 80%)"
set key inside right top
set multiplot layout 1,3
set title "dns dens-lastfm seed 2020 epoch 0"
plot "histogram.dat" index 0 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 1 notitle, \
     "" index 0 using 1:2 with histeps lw 2 lc 1 notitle
set title "dns dens-lastfm seed 2020 epoch 5"
plot "histogram.dat" index 1 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 2 notitle, \
     "" index 1 using 1:2 with histeps lw 2 lc 2 notitle
set title "dns dens-lastfm seed 2020 epoch 20"
plot "histogram.dat" index 2 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 3 notitle, \
     "" index 2 using 1:2 with histeps lw 2 lc 3 notitle
unset multiplot
set output
set terminal svg size 1200,600 noenhanced
set output "histogram.svg"
set datafile separator "\t"
set key outside right top
set xlabel "score of unobserved (user, item) pairs"
set ylabel "density (shaded: the lowest 80%)"
set key inside right top
set multiplot layout 1,3
set title "dns dens-lastfm seed 2020 epoch 0"
plot "histogram.dat" index 0 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 1 notitle, \
     "" index 0 using 1:2 with histeps lw 2 lc 1 notitle
set title "dns dens-lastfm seed 2020 epoch 5"
plot "histogram.dat" index 1 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 2 notitle, \
     "" index 1 using 1:2 with histeps lw 2 lc 2 notitle
set title "dns dens-lastfm seed 2020 epoch 20"
plot "histogram.dat" index 2 using 1:3 with boxes fillstyle transparent solid 0.3 noborder lc 3 notitle, \
     "" index 2 using 1:2 with histeps lw 2 lc 3 notitle
unset multiplot
set output
