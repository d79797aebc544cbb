# sensitivity.gp - written by negbench plot sensitivity; edit and render with: gnuplot sensitivity.gp
# (data: sensitivity.dat, one block per series, titled on its first line)
set terminal pngcairo size 1200,600 noenhanced
set output "sensitivity.png"
set datafile separator "\t"
set key outside right top
set xlabel "sampler.gamma"
set ylabel "test metric (mean ± sd over seeds)"
set xrange [-0.5:7.5]
plot "sensitivity.dat" index 0 using 1:3:4:xtic(2) with yerrorlines lw 2 lc 1 title "dens-beauty Recall@20"
set output
set terminal svg size 1200,600 noenhanced
set output "sensitivity.svg"
set datafile separator "\t"
set key outside right top
set xlabel "sampler.gamma"
set ylabel "test metric (mean ± sd over seeds)"
set xrange [-0.5:7.5]
plot "sensitivity.dat" index 0 using 1:3:4:xtic(2) with yerrorlines lw 2 lc 1 title "dens-beauty Recall@20"
set output
