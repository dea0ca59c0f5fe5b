"""evaluations, contact retention and the municipality's public pages

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 22:20:53.964633

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_reminded_at', sa.DateTime(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('answered_by', sa.String(length=120), server_default='', nullable=False),
    sa.Column('went_well', sa.Text(), server_default='', nullable=False),
    sa.Column('went_badly', sa.Text(), server_default='', nullable=False),
    sa.Column('volunteers', sa.Integer(), nullable=True),
    sa.Column('participants', sa.Integer(), nullable=True),
    sa.Column('wishes', sa.Text(), server_default='', nullable=False),
    sa.Column('municipality_view', sa.Text(), server_default='', nullable=False),
    sa.Column('municipality_view_by_id', sa.Integer(), nullable=True),
    sa.Column('municipality_view_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('participants IS NULL OR participants >= 0', name=op.f('ck_evaluation_participants_not_negative')),
    sa.CheckConstraint('volunteers IS NULL OR volunteers >= 0', name=op.f('ck_evaluation_volunteers_not_negative')),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], name=op.f('fk_evaluation_agreement_id_agreement')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_evaluation_municipality_id_municipality')),
    sa.ForeignKeyConstraint(['municipality_view_by_id'], ['user_account.id'], name=op.f('fk_evaluation_municipality_view_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation')),
    sa.UniqueConstraint('agreement_id', 'due_on', name='one_per_due_date')
    )
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_agreement_id'), ['agreement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluation_municipality_id'), ['municipality_id'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_retention_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('privacy_notice', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('accessibility_statement', sa.Text(), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_column('accessibility_statement')
        batch_op.drop_column('privacy_notice')
        batch_op.drop_column('contact_retention_months')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_evaluation_agreement_id'))

    op.drop_table('evaluation')
