"""Every action of the model, in one ordered registry (see :mod:`.registry` for what an
action declares). The order is SPEC.md's: clients, partition leaders, the transaction
coordinator, the network and the consumer; within a trigger it is also the order in which
successors are enumerated (a lost message comes after the message's delivery)."""

from __future__ import annotations

from .client_responses import RESPONSE_ACTIONS
from .clients import CLIENT_ACTIONS
from .consumer import CONSUMER_ACTIONS
from .coordinator import COORDINATOR_ACTIONS
from .groups import GROUP_ACTIONS
from .leaders import LEADER_ACTIONS
from .markers import MARKER_ACTIONS
from .network import NETWORK_ACTIONS
from .registry import Action, declare
from .replication import REPLICATION_ACTIONS
from .request_retries import REQUEST_RETRY_ACTIONS
from .retriable_errors import REFUSAL_ACTIONS
from .sender import SENDER_ACTIONS
from .transaction_log import TRANSACTION_LOG_ACTIONS
from .verification import COORDINATOR_VERIFICATION_ACTIONS, LEADER_VERIFICATION_ACTIONS

ACTIONS: tuple[Action, ...] = declare(
    (
        *CLIENT_ACTIONS[:2],  # InitProducerId, BeginTransaction
        *SENDER_ACTIONS,  # Send, RetryProduce, TimeoutProduce, ExpireBatch
        *CLIENT_ACTIONS[2:],
        *REQUEST_RETRY_ACTIONS,  # ResendCoordinatorRequest, TimeoutCoordinatorRequest
        *RESPONSE_ACTIONS,
        LEADER_ACTIONS[0],  # HandleProduce
        *LEADER_VERIFICATION_ACTIONS,  # VerifyPartition, AppendVerified
        *REFUSAL_ACTIONS,  # NotEnoughReplicas, NotLeaderOrFollower
        *LEADER_ACTIONS[1:],
        *REPLICATION_ACTIONS,
        *COORDINATOR_ACTIONS,
        *COORDINATOR_VERIFICATION_ACTIONS,  # HandleVerifyPartition
        TRANSACTION_LOG_ACTIONS[0],  # CompleteTxnLogAppend
        *MARKER_ACTIONS,
        *TRANSACTION_LOG_ACTIONS[1:],  # TimeoutTransaction, CoordinatorFailover
        *GROUP_ACTIONS,  # Rebalance
        *NETWORK_ACTIONS,
        *CONSUMER_ACTIONS,
    )
)
#: Every action the model can take, for coverage reports.
ACTION_NAMES: tuple[str, ...] = tuple(action.name for action in ACTIONS)
#: Actions by name.
BY_NAME: dict[str, Action] = {action.name: action for action in ACTIONS}
