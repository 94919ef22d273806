#!/bin/bash
# One claimsweep trial per job. Submit the same script as often as you like;
# each job claims the next unclaimed point of the sweep by itself:
#
#   export SWEEP_DIR=/scratch/$USER/sweeps/lr-depth      # made by `sweep init`
#   for i in $(seq 40); do sbatch --export=ALL jobscripts/run_trial.sh; done
#
# (`sweep submit DIR --jobs 40` renders and submits this from the spec's
# `resources { ... }` instead; `sweep submit DIR --dry-run` shows the result.)
#
# Adjust the resources to your cluster. Each line is an ordinary sbatch option.
#SBATCH --job-name=claimsweep
#SBATCH --gres=gpu:1                 # one GPU per trial (drop it for CPU trials)
#SBATCH --cpus-per-task=8            # also the trainer's thread count
#SBATCH --mem=32G
#SBATCH --time=24:00:00              # a trial longer than this resumes in the next job
#
# Walltime: Slurm sends SIGUSR1 to the batch shell 120 s before the end ("B:"
# = the shell, which `exec` below makes `trial` itself). `trial` then writes a
# checkpoint, hands the trial back and exits 75; the next job resumes it first.
# Make the 120 s longer than one checkpoint write of your model.
#SBATCH --signal=B:USR1@120
#
# Requeue: with `resources { requeue: true }` in the spec, an interrupted job
# requeues itself (`scontrol requeue`, at most max_attempts - 1 times) instead
# of waiting for you to submit another. Slurm only requeues jobs submitted
# with --requeue.
#SBATCH --requeue
#
# Job output. Slurm does not create folders: run `mkdir -p slurm` first, or
# let `sweep submit` do it (it writes into DIR/slurm/).
#SBATCH --output=slurm/%x-%j.out

set -euo pipefail
: "${SWEEP_DIR:?set SWEEP_DIR to the sweep directory (or submit from inside it)}"
export SWEEP_DIR
# `exec`, not a child: the walltime signal must reach `trial` directly.
# Use the full path to the trial binary you built, e.g. $HOME/claimsweep/build/bin/trial.
exec "${CLAIMSWEEP_TRIAL:-trial}"
