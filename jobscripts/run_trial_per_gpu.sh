#!/bin/bash
# Several trials in one allocation, one per GPU: `srun` starts one `trial` per
# task, each task bound to its own GPU. Each trial claims its own point, so the
# job's GPUs never wait for each other: a trial that ends early is followed by
# the next claim (with `claim { trials_per_job: 0 }` in the spec).
#
#   export SWEEP_DIR=/scratch/$USER/sweeps/lr-depth
#   sbatch --export=ALL jobscripts/run_trial_per_gpu.sh
#
# (`resources { gpus: 4 cpus: 32 trial_per_gpu: true }` makes `sweep submit`
# render this form.)
#SBATCH --job-name=claimsweep-x4
#SBATCH --nodes=1
#SBATCH --ntasks=4                   # one task (one trial) per GPU
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8            # per trial
#SBATCH --mem=128G
#SBATCH --time=24:00:00
# The signal goes to the batch shell, which `exec` makes srun; srun forwards
# SIGUSR1 to every trial, and each checkpoints and hands its trial back.
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --output=slurm/%x-%j.out

set -euo pipefail
: "${SWEEP_DIR:?set SWEEP_DIR to the sweep directory}"
export SWEEP_DIR
exec srun --ntasks="${SLURM_NTASKS:-4}" --gpus-per-task=1 --kill-on-bad-exit=0 "${CLAIMSWEEP_TRIAL:-trial}"
