// The environment contract (DESIGN.md section 3): every source, their precedence, defaults, and
// the validation errors (which must name the variable and its value).

import test from 'ava';

import { defaultMasterPort, parseHostPort, resolveJobEnv, type JobEnv } from '../../lib/env.js';

const invalid = (message: RegExp): { code: string; message: RegExp } => ({ code: 'ERR_RINGTREE_INVALID_ARGUMENT', message });

test('nothing set: a single-rank job without a store', (t) => {
  t.deepEqual(resolveJobEnv({}), {
    rank: 0, size: 1, localRank: 0, localSize: 1, store: null, hostsStore: false, jobId: 'local', source: 'none',
  } satisfies JobEnv);
  t.is(resolveJobEnv({ PATH: '/usr/bin', RINGTREE_STORE: '10.0.0.1:1' }).source, 'none', 'unrelated variables do not select a source');
});

test('resolveJobEnv reads process.env by default', (t) => {
  const saved = { ...process.env };
  try {
    for (const k of Object.keys(process.env)) if (/^(RINGTREE_|RANK$|WORLD_SIZE$|OMPI_|PMI_|SLURM_|MASTER_)/.test(k)) delete process.env[k];
    process.env.RINGTREE_RANK = '1';
    process.env.RINGTREE_WORLD_SIZE = '2';
    process.env.RINGTREE_STORE = '127.0.0.1:4000';
    t.like(resolveJobEnv(), { rank: 1, size: 2, source: 'ringrun' });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('ringrun variables', (t) => {
  t.deepEqual(resolveJobEnv({
    RINGTREE_RANK: '3', RINGTREE_WORLD_SIZE: '4', RINGTREE_LOCAL_RANK: '1', RINGTREE_LOCAL_WORLD_SIZE: '2',
    RINGTREE_STORE: 'node1.example:29400', RINGTREE_JOB_ID: 'job-17', RINGTREE_SECRET: 's3cret',
  }), {
    rank: 3, size: 4, localRank: 1, localSize: 2, store: { host: 'node1.example', port: 29400 },
    hostsStore: false, jobId: 'job-17', secret: 's3cret', source: 'ringrun',
  } satisfies JobEnv);
});

test('ringrun: local rank/size default to rank/size; job id derives from the store address', (t) => {
  const job = resolveJobEnv({ RINGTREE_RANK: '1', RINGTREE_WORLD_SIZE: '3', RINGTREE_STORE: '[::1]:5000' });
  t.like(job, { rank: 1, size: 3, localRank: 1, localSize: 3, store: { host: '::1', port: 5000 }, jobId: '[::1]:5000', hostsStore: false });
  t.false('secret' in job);
});

test('ringrun: a single rank may run without a store', (t) => {
  t.like(resolveJobEnv({ RINGTREE_RANK: '0', RINGTREE_WORLD_SIZE: '1' }), { size: 1, store: null, jobId: 'local', source: 'ringrun' });
});

test('ringrun: a multi-rank job needs RINGTREE_STORE', (t) => {
  t.throws(() => resolveJobEnv({ RINGTREE_RANK: '0', RINGTREE_WORLD_SIZE: '2' }), invalid(/RINGTREE_STORE is not set but RINGTREE_WORLD_SIZE=2/));
});

test('RINGTREE_STORE address forms', (t) => {
  t.deepEqual(parseHostPort('10.1.2.3:29500', 'X'), { host: '10.1.2.3', port: 29500 });
  t.deepEqual(parseHostPort('[fe80::1]:1', 'X'), { host: 'fe80::1', port: 1 });
  t.deepEqual(parseHostPort('localhost:65535', 'X'), { host: 'localhost', port: 65535 });
  const cases: Array<[string, RegExp]> = [
    ['10.1.2.3', /missing ":port"/],
    [':29500', /empty host/],
    ['::1:29500', /IPv6 addresses in brackets/],
    ['[::1]29500', /expected ":port" after "\]"/],
    ['[::1:29500', /missing "\]"/],
    ['[nothost]:1', /not an IPv6 address/],
    ['h:0', /port must be an integer in 1\.\.65535/],
    ['h:65536', /port must be an integer/],
    ['h:12ab', /port must be an integer/],
    ['h:', /port must be an integer/],
  ];
  for (const [value, message] of cases) {
    t.throws(() => resolveJobEnv({ RINGTREE_RANK: '0', RINGTREE_WORLD_SIZE: '2', RINGTREE_STORE: value }),
      invalid(new RegExp(`^RINGTREE_STORE=${JSON.stringify(value).replace(/[[\]]/g, '\\$&')} .*${message.source}`)), value);
  }
});

test('torchrun variables: rank 0 hosts the store on MASTER_ADDR:MASTER_PORT', (t) => {
  const env = { RANK: '0', WORLD_SIZE: '8', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '4', MASTER_ADDR: '10.0.0.5', MASTER_PORT: '23456' };
  t.deepEqual(resolveJobEnv(env), {
    rank: 0, size: 8, localRank: 0, localSize: 4, store: { host: '10.0.0.5', port: 23456 },
    hostsStore: true, jobId: '10.0.0.5:23456', source: 'torchrun',
  } satisfies JobEnv);
  t.like(resolveJobEnv({ ...env, RANK: '5', LOCAL_RANK: '1' }), { rank: 5, localRank: 1, hostsStore: false });
});

test('torchrun: MASTER_PORT defaults to 29500; MASTER_ADDR is required for more than one rank', (t) => {
  t.is(defaultMasterPort, 29500);
  t.like(resolveJobEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'head' }), { store: { host: 'head', port: 29500 }, localRank: 1, localSize: 2, jobId: 'head:29500' });
  t.like(resolveJobEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '[::1]' }), { store: { host: '::1', port: 29500 }, jobId: '[::1]:29500' });
  t.throws(() => resolveJobEnv({ RANK: '1', WORLD_SIZE: '2' }), invalid(/^MASTER_ADDR is not set: with RANK\/WORLD_SIZE \(torchrun\) and WORLD_SIZE=2/));
  t.throws(() => resolveJobEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: 'x' }), invalid(/^MASTER_PORT="x" is invalid/));
  t.throws(() => resolveJobEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'a b' }), invalid(/^MASTER_ADDR="a b" is not a valid host/));
});

test('torchrun: a single rank needs no MASTER_ADDR and hosts nothing', (t) => {
  t.deepEqual(resolveJobEnv({ RANK: '0', WORLD_SIZE: '1' }), {
    rank: 0, size: 1, localRank: 0, localSize: 1, store: null, hostsStore: false, jobId: 'local', source: 'torchrun',
  } satisfies JobEnv);
  t.like(resolveJobEnv({ RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: 'h', MASTER_PORT: '1234' }), { store: null, hostsStore: false, jobId: 'h:1234' });
});

test('torchrun: TORCHELASTIC_RUN_ID is the job id unless it is the default "none"', (t) => {
  const env = { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '7' };
  t.is(resolveJobEnv({ ...env, TORCHELASTIC_RUN_ID: 'abc' }).jobId, 'abc');
  t.is(resolveJobEnv({ ...env, TORCHELASTIC_RUN_ID: 'none' }).jobId, 'h:7');
});

test('mpirun (Open MPI) variables', (t) => {
  t.deepEqual(resolveJobEnv({
    OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '0', OMPI_COMM_WORLD_LOCAL_SIZE: '2',
    MASTER_ADDR: 'head', OMPI_MCA_ess_base_jobid: '123456',
  }), {
    rank: 2, size: 4, localRank: 0, localSize: 2, store: { host: 'head', port: 29500 },
    hostsStore: false, jobId: '123456', source: 'mpirun',
  } satisfies JobEnv);
  t.throws(() => resolveJobEnv({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2' }), invalid(/^MASTER_ADDR is not set: with OMPI_COMM_WORLD_RANK\/OMPI_COMM_WORLD_SIZE \(mpirun\)/));
});

test('MPICH/Hydra PMI variables, local rank from MPI_LOCALRANKID', (t) => {
  t.like(resolveJobEnv({ PMI_RANK: '0', PMI_SIZE: '3', MASTER_ADDR: 'h' }), {
    rank: 0, size: 3, localRank: 0, localSize: 3, hostsStore: true, source: 'pmi',
  });
  t.like(resolveJobEnv({ PMI_RANK: '2', PMI_SIZE: '4', MPI_LOCALRANKID: '0', MPI_LOCALNRANKS: '2', MASTER_ADDR: 'h' }), {
    rank: 2, localRank: 0, localSize: 2, hostsStore: false, source: 'pmi',
  });
  t.like(resolveJobEnv({ PMI_RANK: '2', PMI_SIZE: '4', MPI_LOCALRANKID: '1', MASTER_ADDR: 'h' }), { localRank: 1, localSize: 4 });
});

test('Slurm srun variables, local size from SLURM_NTASKS_PER_NODE or SLURM_TASKS_PER_NODE', (t) => {
  const base = { SLURM_PROCID: '5', SLURM_NTASKS: '8', SLURM_LOCALID: '1', MASTER_ADDR: 'n1', SLURM_JOB_ID: '998877' };
  t.deepEqual(resolveJobEnv({ ...base, SLURM_NTASKS_PER_NODE: '4', SLURM_TASKS_PER_NODE: '2(x4)' }), {
    rank: 5, size: 8, localRank: 1, localSize: 4, store: { host: 'n1', port: 29500 },
    hostsStore: false, jobId: '998877', source: 'slurm',
  } satisfies JobEnv);
  t.is(resolveJobEnv({ ...base, SLURM_TASKS_PER_NODE: '4(x2)' }).localSize, 4);
  t.is(resolveJobEnv({ ...base, SLURM_TASKS_PER_NODE: '3,2(x2),1' }).localSize, 3);
  t.is(resolveJobEnv({ ...base }).localSize, 8, 'defaults to the world size');
  t.throws(() => resolveJobEnv({ ...base, SLURM_TASKS_PER_NODE: 'x4' }), invalid(/^SLURM_TASKS_PER_NODE="x4" is invalid/));
  t.throws(() => resolveJobEnv({ SLURM_PROCID: '0', MASTER_ADDR: 'n1' }), invalid(/^SLURM_NTASKS is not set but SLURM_PROCID=0 is/));
  t.is(resolveJobEnv({ SLURM_NTASKS: '8', SLURM_JOB_ID: '1' }).source, 'none', 'an allocation without srun is not a job step');
});

test('precedence: ringrun > torchrun > mpirun > pmi > slurm', (t) => {
  const ringrun = { RINGTREE_RANK: '0', RINGTREE_WORLD_SIZE: '2', RINGTREE_STORE: 'r:1' };
  const torchrun = { RANK: '1', WORLD_SIZE: '3', MASTER_ADDR: 'm' };
  const mpirun = { OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4' };
  const pmi = { PMI_RANK: '3', PMI_SIZE: '5' };
  const slurm = { SLURM_PROCID: '4', SLURM_NTASKS: '6' };
  const all = { ...ringrun, ...torchrun, ...mpirun, ...pmi, ...slurm };
  t.like(resolveJobEnv(all), { source: 'ringrun', rank: 0, size: 2, store: { host: 'r', port: 1 } });
  t.like(resolveJobEnv({ ...torchrun, ...mpirun, ...pmi, ...slurm }), { source: 'torchrun', rank: 1, size: 3 });
  t.like(resolveJobEnv({ ...mpirun, ...pmi, ...slurm, MASTER_ADDR: 'm' }), { source: 'mpirun', rank: 2, size: 4 });
  t.like(resolveJobEnv({ ...pmi, ...slurm, MASTER_ADDR: 'm' }), { source: 'pmi', rank: 3, size: 5 });
  t.like(resolveJobEnv({ ...slurm, MASTER_ADDR: 'm' }), { source: 'slurm', rank: 4, size: 6 });
});

test('job id precedence: RINGTREE_JOB_ID > TORCHELASTIC_RUN_ID > SLURM_JOB_ID > OMPI_MCA_ess_base_jobid > address', (t) => {
  const base = { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '9' };
  const ids = { RINGTREE_JOB_ID: 'a', TORCHELASTIC_RUN_ID: 'b', SLURM_JOB_ID: 'c', OMPI_MCA_ess_base_jobid: 'd' };
  t.is(resolveJobEnv({ ...base, ...ids }).jobId, 'a');
  t.is(resolveJobEnv({ ...base, ...ids, RINGTREE_JOB_ID: undefined }).jobId, 'b');
  t.is(resolveJobEnv({ ...base, SLURM_JOB_ID: 'c', OMPI_MCA_ess_base_jobid: 'd' }).jobId, 'c');
  t.is(resolveJobEnv({ ...base, OMPI_MCA_ess_base_jobid: 'd' }).jobId, 'd');
  t.is(resolveJobEnv(base).jobId, 'h:9');
  t.is(resolveJobEnv({ RINGTREE_JOB_ID: 'solo' }).jobId, 'solo', 'applies to a launcher-less run too');
});

test('RINGTREE_SECRET applies whatever the source; empty values count as unset', (t) => {
  t.is(resolveJobEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', RINGTREE_SECRET: 'k' }).secret, 'k');
  t.false('secret' in resolveJobEnv({ RINGTREE_SECRET: '' }));
  t.is(resolveJobEnv({ RINGTREE_RANK: '', RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'h' }).source, 'torchrun');
  t.like(resolveJobEnv({ RANK: ' 1 ', WORLD_SIZE: '2', MASTER_ADDR: ' h ' }), { rank: 1, store: { host: 'h', port: 29500 } });
});

test('validation errors name the variable and its value', (t) => {
  const torch = { MASTER_ADDR: 'h' };
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ RANK: '0' }, /^WORLD_SIZE is not set but RANK=0 is/],
    [{ WORLD_SIZE: '2' }, /^RANK is not set but WORLD_SIZE=2 is/],
    [{ RANK: 'one', WORLD_SIZE: '2' }, /^RANK="one" is invalid: expected an integer >= 0/],
    [{ RANK: '-1', WORLD_SIZE: '2' }, /^RANK="-1" is invalid/],
    [{ RANK: '1.5', WORLD_SIZE: '2' }, /^RANK="1.5" is invalid/],
    [{ RANK: '1e3', WORLD_SIZE: '2000' }, /^RANK="1e3" is invalid/],
    [{ RANK: '0', WORLD_SIZE: '0' }, /^WORLD_SIZE="0" is invalid: expected an integer >= 1/],
    [{ RANK: '99999999999999999999', WORLD_SIZE: '2' }, /^RANK="99999999999999999999" is invalid/],
    [{ RANK: '2', WORLD_SIZE: '2', ...torch }, /^RANK=2 is out of range: must be less than WORLD_SIZE=2/],
    [{ RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2', ...torch }, /^LOCAL_RANK=2 is out of range: must be less than LOCAL_WORLD_SIZE=2/],
    [{ RANK: '0', WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '0', ...torch }, /^LOCAL_WORLD_SIZE="0" is invalid/],
    [{ RANK: '0', WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '3', ...torch }, /^LOCAL_WORLD_SIZE=3 is out of range: must not exceed WORLD_SIZE=2/],
    [{ RANK: '3', WORLD_SIZE: '4', LOCAL_WORLD_SIZE: '2', ...torch }, /^LOCAL_RANK \(not set, defaults to RANK=3\) is out of range: must be less than LOCAL_WORLD_SIZE=2/],
    [{ RINGTREE_RANK: 'x', RINGTREE_WORLD_SIZE: '2' }, /^RINGTREE_RANK="x" is invalid/],
    [{ RINGTREE_RANK: '0', RINGTREE_WORLD_SIZE: '2', RINGTREE_STORE: 'h:1', RINGTREE_LOCAL_RANK: '5' }, /^RINGTREE_LOCAL_RANK=5 is out of range/],
    [{ OMPI_COMM_WORLD_RANK: '4', OMPI_COMM_WORLD_SIZE: '4' }, /^OMPI_COMM_WORLD_RANK=4 is out of range/],
    [{ PMI_RANK: '0', PMI_SIZE: '2', MPI_LOCALRANKID: 'a', ...torch }, /^MPI_LOCALRANKID="a" is invalid/],
    [{ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_LOCALID: '-3', ...torch }, /^SLURM_LOCALID="-3" is invalid/],
  ];
  for (const [env, message] of cases) t.throws(() => resolveJobEnv(env), invalid(message), JSON.stringify(env));
});
