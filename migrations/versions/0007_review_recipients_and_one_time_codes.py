"""review recipients and one-time codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 22:11:53.739486

Links made before this revision have no recipient: they went to the organisation's
primary contact, which is where their reminders and codes go too.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('link_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('code_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('code_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('code_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('codes_sent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('code_sent_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_code_required', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_column('review_code_required')

    with op.batch_alter_table('link_token', schema=None) as batch_op:
        batch_op.drop_column('code_sent_at')
        batch_op.drop_column('codes_sent')
        batch_op.drop_column('code_attempts')
        batch_op.drop_column('code_expires_at')
        batch_op.drop_column('code_hash')
        batch_op.drop_column('recipient')

