/// How this process was started: by an MPI launcher (Open MPI's `mpirun`, or Slurm's `srun` with PMIx or
/// PMI-2), as one rank of `size`, or on its own. Read from the launcher's environment only: nothing is loaded
/// and MPI is not initialised to find out.
public struct Launch: Sendable, Equatable {
    /// This process's rank (0-based) in the job, as the launcher announced it.
    public var rank: Int
    /// Processes in the job.
    public var size: Int
    /// Processes of the job on this machine (to share its cores among them); 1 when the launcher does not say.
    public var localSize: Int
    /// Which variables told: `OMPI_COMM_WORLD_RANK` (mpirun), `PMIX_RANK` (srun --mpi=pmix) or `PMI_RANK`.
    public var source: String

    /// A launch of `size` processes, this one being `rank`, `localSize` of them on this machine.
    public init(rank: Int, size: Int, localSize: Int, source: String) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
        self.source = source
    }

    /// The launch `environment` describes, or nil when no MPI launcher started this process. Open MPI's
    /// mpirun sets `OMPI_COMM_WORLD_RANK`, `_SIZE` and `_LOCAL_SIZE`; srun sets `PMIX_RANK` (or `PMI_RANK` with
    /// PMI-2) and `SLURM_NTASKS`, `SLURM_STEP_NUM_TASKS`, `SLURM_NTASKS_PER_NODE` / `SLURM_STEP_TASKS_PER_NODE`.
    /// A Slurm allocation alone (`SLURM_PROCID` without PMI) is not an MPI launch.
    public static func detect(environment env: [String: String]) -> Launch? {
        func int(_ key: String) -> Int? { env[key].flatMap { Int($0.prefix { $0.isNumber }) } }
        if let rank = int("OMPI_COMM_WORLD_RANK") {
            return Launch(rank: rank, size: int("OMPI_COMM_WORLD_SIZE") ?? 1, localSize: max(1, int("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1),
                          source: "OMPI_COMM_WORLD_RANK")
        }
        for key in ["PMIX_RANK", "PMI_RANK"] {
            if let rank = int(key) {
                let size = int("SLURM_STEP_NUM_TASKS") ?? int("SLURM_NTASKS") ?? int("PMI_SIZE") ?? 1
                let local = int("SLURM_STEP_TASKS_PER_NODE") ?? int("SLURM_NTASKS_PER_NODE") ?? int("MPI_LOCALNRANKS") ?? 1
                return Launch(rank: rank, size: size, localSize: max(1, local), source: key)
            }
        }
        return nil
    }
}
