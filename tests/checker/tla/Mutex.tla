--------------------------------- MODULE Mutex ---------------------------------
(* A lock shared by processes that each go idle -> waiting -> critical -> idle.  *)
(* Weak fairness on Enter lets a waiting process starve: the lock is free again  *)
(* and again, but never for ever, while another process keeps taking it. Strong *)
(* fairness rules that out. Try is a process's own choice and is never fair.     *)
EXTENDS Naturals
CONSTANT Proc
VARIABLES pc, lock
vars == <<pc, lock>>

Init == pc = [p \in Proc |-> "idle"] /\ lock = FALSE
Try(p) == pc[p] = "idle" /\ pc' = [pc EXCEPT ![p] = "waiting"] /\ UNCHANGED lock
Enter(p) == pc[p] = "waiting" /\ ~lock /\ pc' = [pc EXCEPT ![p] = "critical"] /\ lock' = TRUE
Leave(p) == pc[p] = "critical" /\ pc' = [pc EXCEPT ![p] = "idle"] /\ lock' = FALSE
Next == \E p \in Proc : Try(p) \/ Enter(p) \/ Leave(p)

Spec == Init /\ [][Next]_vars
SpecWF == Spec /\ \A p \in Proc : WF_vars(Enter(p)) /\ WF_vars(Leave(p))
SpecSF == Spec /\ \A p \in Proc : SF_vars(Enter(p)) /\ WF_vars(Leave(p))

MutualExclusion == \A p, q \in Proc : pc[p] = "critical" /\ pc[q] = "critical" => p = q
Starvation == \A p \in Proc : pc[p] = "waiting" ~> pc[p] = "critical"
Unlocks == []<>(~lock)
================================================================================
